/* peer.h: what the test QMP peers (fakeqmp, hostileqmp) share: a stop
 * flag set by SIGTERM or SIGINT, and a listening socket served one
 * connection at a time until then. Header only: every .c file in
 * tests/helpers is a program of its own. */
#pragma once
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* Listens on path (a stale file there is replaced) and calls serve(fd)
 * for each connection until stopped. 0, or 1 after perror(who). */
static int peer_serve(const char *path, const char *who, void (*serve)(int fd))
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct sigaction act = {.sa_handler = on_signal};
    int lfd;

    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);
    signal(SIGPIPE, SIG_IGN);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    unlink(path);
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0) {
        perror(who);
        return 1;
    }
    while (!stop) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        serve(fd);
        close(fd);
    }
    close(lfd);
    unlink(path);
    return 0;
}

/* Whether path fits a socket address. */
static int peer_path_ok(const char *path)
{
    return strlen(path) < sizeof(((struct sockaddr_un *)0)->sun_path);
}
