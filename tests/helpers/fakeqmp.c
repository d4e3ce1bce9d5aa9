/* fakeqmp: a QMP peer that misbehaves, for what a real QEMU cannot
 * produce. Listens on a unix socket and, to every client:
 *   silent   accepts and never greets (as when another client holds QEMU)
 *   garbage  sends bytes that are not JSON
 *   hugeline sends a line longer than the client's cap, without end
 *   deep     sends a greeting nested 1000 levels deep
 *   notqmp   sends valid JSON that is not a QMP message
 *   resets   greets, accepts qmp_capabilities, then sends 50,000 RESET
 *            events at once (a guest in a reset loop, or a hostile peer)
 * Usage: fakeqmp MODE SOCKET. Ends on SIGTERM/SIGINT and removes SOCKET. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "peer.h"

static const char *peer_mode;

/* Greets, answers the first command (qmp_capabilities) by its id, then
 * floods RESET events. */
static void serve_resets(int fd)
{
    static const char greeting[] = "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n";
    static const char reset[] = "{\"event\": \"RESET\", \"data\": {\"guest\": true}, "
                                "\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}}\r\n";
    char line[4096], reply[96];
    size_t len = 0;
    const char *id;
    ssize_t n;

    if (write(fd, greeting, strlen(greeting)) < 0)
        return;
    while (len < sizeof(line) - 1 && !memchr(line, '\n', len)) {
        n = read(fd, line + len, sizeof(line) - 1 - len);
        if (n <= 0)
            return;
        len += (size_t)n;
    }
    line[len] = '\0';
    id = strstr(line, "\"id\":");
    snprintf(reply, sizeof(reply), "{\"return\": {}, \"id\": %ld}\r\n", id ? strtol(id + 5, NULL, 10) : 0L);
    if (write(fd, reply, strlen(reply)) < 0)
        return;
    for (int i = 0; i < 50000 && !stop; i++)
        if (write(fd, reset, strlen(reset)) < 0)
            return;
}

static void serve(int fd, const char *mode)
{
    static char buf[1 << 16];

    if (strcmp(mode, "resets") == 0)
        serve_resets(fd);

    else if (strcmp(mode, "garbage") == 0) {
        const char *g = "\x01\xff{{{ not json at all ]]]\r\n";
        for (int i = 0; i < 100 && !stop; i++)
            if (write(fd, g, strlen(g)) < 0)
                return;
    } else if (strcmp(mode, "hugeline") == 0) {
        memset(buf, 'x', sizeof(buf));
        buf[0] = '"';
        for (int i = 0; i < 64 && !stop; i++) /* 4 MiB, no newline */
            if (write(fd, buf, sizeof(buf)) < 0)
                return;
    } else if (strcmp(mode, "deep") == 0) {
        for (int i = 0; i < 1000; i++)
            if (write(fd, "{\"QMP\":", 7) < 0)
                return;
        if (write(fd, "0", 1) < 0)
            return;
        for (int i = 0; i < 1000; i++)
            if (write(fd, "}", 1) < 0)
                return;
        if (write(fd, "\r\n", 2) < 0)
            return;
    } else if (strcmp(mode, "notqmp") == 0) {
        const char *g = "{\"hello\": [1, 2, 3]}\r\n";
        if (write(fd, g, strlen(g)) < 0)
            return;
    }
    /* silent, and after the others: hold the client until it leaves. */
    while (!stop && read(fd, buf, sizeof(buf)) > 0)
        ;
}

static void serve_mode(int fd)
{
    serve(fd, peer_mode);
}

int main(int argc, char **argv)
{
    if (argc != 3 || !peer_path_ok(argv[2])) {
        fprintf(stderr, "usage: fakeqmp silent|garbage|hugeline|deep|notqmp|resets SOCKET\n");
        return 2;
    }
    peer_mode = argv[1];
    return peer_serve(argv[2], "fakeqmp", serve_mode);
}
