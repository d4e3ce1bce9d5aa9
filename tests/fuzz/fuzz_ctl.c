/* fuzz_ctl: the control protocol and its handlers, through the daemon's
 * own manager (dry run, no host tuning) and control socket: one request
 * per input, over a real connection, answered on the in-process loop.
 * A VM "v1" is listed (its QMP socket never greets), so the vm-*
 * handlers run on a real VM object. */
#include <json-c/json.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf.h"
#include "mgr.h"
#include "util.h"

const char *fuzz_name = "ctl";

static char dir[64], ctl_path[108];
static sd_event *ev;
static struct mgr *mgr;

static void cleanup(void)
{
    char cmd[128];

    mgr_free(mgr);
    sd_event_unref(ev);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_ctl: could not remove %s\n", dir);
}

static int unix_fd(const char *path, bool listening)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (fd < 0 || (listening ? bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0
                             : connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0))
        abort();
    return fd;
}

static void setup(void)
{
    struct mgr_options opt = {.dry_run = true, .proc_root = "/proc", .sys_root = "/sys"};
    char p[160], text[512];
    struct conf *c;
    FILE *f;

    /* tmpfs: vm-set and vm-target write the state file with fsync. */
    snprintf(dir, sizeof(dir), "/dev/shm/balloond-fuzz-ctl.%d", getpid());
    snprintf(p, sizeof(p), "%s/qmp", dir);
    if (mkdir(dir, 0700) < 0 || mkdir(p, 0700) < 0)
        abort();
    snprintf(p, sizeof(p), "%s/qmp/v1", dir);
    unix_fd(p, true); /* held open for the process's life */
    snprintf(ctl_path, sizeof(ctl_path), "%s/ctl.sock", dir);
    snprintf(text, sizeof(text),
             "[host]\nsocket_dir = %s/qmp\ncontrol_socket = %s\nstate_file = %s/state.json\n"
             "metrics = off\nksm = off\nzswap = off\n[vm v1]\nmin = 128M\n",
             dir, ctl_path, dir);
    snprintf(p, sizeof(p), "%s/balloond.conf", dir);
    f = fopen(p, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0 || conf_load(p, &c) < 0)
        abort();
    if (sd_event_new(&ev) < 0 || mgr_new(ev, c, &opt, &mgr) < 0)
        abort();
    for (int i = 0; i < 20; i++) /* the first tick lists v1 */
        sd_event_run(ev, 10000);
    atexit(cleanup);
}

/* The operator's settings, as vm-set saved them, are one line per key at
 * most (min, max, buffer, shares): anything else would pile up request
 * after request in memory and in the state file. */
static void check_settings(void)
{
    json_object *root, *set, *v1, *lines;
    char p[160], *text;
    size_t len;
    unsigned n = 0;

    snprintf(p, sizeof(p), "%s/state.json", dir);
    if (read_regular_file(p, 1 << 20, &text, &len) < 0)
        return;
    root = json_tokener_parse(text);
    if (json_object_object_get_ex(root, "settings", &set) && json_object_object_get_ex(set, "v1", &v1) &&
        json_object_object_get_ex(v1, "lines", &lines))
        for (const char *c = json_object_get_string(lines); c && *c; c++)
            n += *c == '\n';
    json_object_put(root);
    free(text);
    if (n > 4)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char reply[1 << 16];
    size_t got = 0;
    int fd;

    if (!ev) {
        log_setup(LOG_EMERG, false);
        setup();
    }
    fd = unix_fd(ctl_path, false);
    if (send(fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ||
        send(fd, "\n", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* a request larger than the socket buffer: the server's cap answers */
    }
    for (int i = 0; i < 64; i++) {
        ssize_t n;
        sd_event_run(ev, 0);
        n = recv(fd, reply + got, sizeof(reply) - 1 - got, MSG_DONTWAIT);
        if (n == 0)
            break;
        if (n > 0)
            got += (size_t)n;
    }
    close(fd);
    if (memmem(data, size, "vm-set", 6))
        check_settings();
    return 0;
}
