/* fuzz_vm: the whole QMP connection state machine, qmp.c and vm.c on the
 * daemon's sd-event loop, against a scripted peer on a real unix socket.
 * The input decides, step by step, what the peer does: greet, answer the
 * oldest command well, badly, with an error or a wrong id, send events
 * (BALLOON_CHANGE, RESET ...), raw bytes, hang up; and what the daemon
 * does: poll, send a target within bounds the input chooses. Invariant
 * checked on every balloon command the peer receives: the value is in
 * [max(min, 1), max] (issue 9, point 3). Found issue 9's point 1 at once. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"
#include "vm.h"

const char *fuzz_name = "vm";

struct in {
    const uint8_t *p;
    size_t n;
};

static unsigned next(struct in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

/* Values a peer may put where a number belongs. */
static const char *const values[] = {
    "0", "1", "18446744073709551615", "18446744073709551614", "9223372036854775808",
    "-1", "-9223372036854775808", "536870912", "1073741824", "4096", "\"536870912\"",
    "1e30", "4503599627370497", "null", "true", "[]", "{}", "268435456", "134217728",
    "4503599627370496", "0.5",
};
static const char *const strings[] = {
    "\"running\"", "\"paused\"", "null", "5", "\"\"", "\"child<virtio-balloon-pci>\"",
    "\"child<virtio-balloon\"", "{}", "\"balloon0\"", "\"x/../y\"",
};

static const char *val(struct in *in)
{
    return values[next(in) % ARRAY_SIZE(values)];
}

static const char *str(struct in *in)
{
    return strings[next(in) % ARRAY_SIZE(strings)];
}

struct peer {
    int lfd, fd;
    sd_event *ev;
    struct vm *vm;
    char rx[1 << 16];
    size_t rx_len;
    uint64_t ids[64];
    char cmds[64][32];
    size_t n_cmds;
};

static char sock_path[108];

static void put(struct peer *p, const char *s)
{
    if (p->fd >= 0 && send(p->fd, s, strlen(s), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* a full socket: the daemon reads it on the next run */
    }
}

/* A command line from the daemon: queue its id, check a balloon value. */
static void on_line(struct peer *p, const char *line)
{
    json_object *o = json_tokener_parse(line), *cmd, *id, *args, *v;

    if (!o || !json_object_object_get_ex(o, "execute", &cmd) || !json_object_object_get_ex(o, "id", &id))
        __builtin_trap(); /* the daemon sends only well-formed commands */
    if (strcmp(json_object_get_string(cmd), "balloon") == 0) {
        uint64_t t;
        if (!json_object_object_get_ex(o, "arguments", &args) || !json_object_object_get_ex(args, "value", &v))
            __builtin_trap();
        t = json_object_get_uint64(v);
        /* (a min above max gives way to max) */
        if (t == 0 || t > p->vm->max_bytes || (t < p->vm->min_bytes && p->vm->min_bytes <= p->vm->max_bytes))
            __builtin_trap(); /* a target out of [min, max] left the daemon */
    }
    if (p->n_cmds < ARRAY_SIZE(p->ids)) {
        p->ids[p->n_cmds] = json_object_get_uint64(id);
        snprintf(p->cmds[p->n_cmds], sizeof(p->cmds[0]), "%s", json_object_get_string(cmd));
        p->n_cmds++;
    }
    json_object_put(o);
}

/* Runs the daemon's loop until it is idle, reading what it sends. */
static void settle(struct peer *p)
{
    for (int i = 0; i < 8; i++) {
        char *nl;
        ssize_t n;
        int r = sd_event_run(p->ev, 0);
        n = p->fd >= 0 ? recv(p->fd, p->rx + p->rx_len, sizeof(p->rx) - 1 - p->rx_len, MSG_DONTWAIT) : -1;
        if (n > 0)
            p->rx_len += (size_t)n;
        while ((nl = memchr(p->rx, '\n', p->rx_len))) {
            *nl = '\0';
            on_line(p, p->rx);
            p->rx_len -= (size_t)(nl + 1 - p->rx);
            memmove(p->rx, nl + 1, p->rx_len);
        }
        if (r == 0 && n <= 0)
            break;
    }
}

static void pop(struct peer *p)
{
    memmove(p->ids, p->ids + 1, (p->n_cmds - 1) * sizeof(p->ids[0]));
    memmove(p->cmds, p->cmds + 1, (p->n_cmds - 1) * sizeof(p->cmds[0]));
    p->n_cmds--;
}

/* The body of a good-looking reply to cmd, with values from the input. */
static void reply_body(struct in *in, const char *cmd, char *buf, size_t size)
{
    if (strcmp(cmd, "qom-list") == 0)
        snprintf(buf, size, "[{\"name\":%s,\"type\":%s},{\"name\":\"balloon0\",\"type\":%s}]", str(in),
                 str(in), str(in));
    else if (strcmp(cmd, "query-memory-size-summary") == 0)
        snprintf(buf, size, "{\"base-memory\":%s,\"plugged-memory\":%s}", val(in), val(in));
    else if (strcmp(cmd, "query-status") == 0)
        snprintf(buf, size, "{\"status\":%s,\"running\":%s}", str(in), val(in));
    else if (strcmp(cmd, "query-balloon") == 0)
        snprintf(buf, size, "{\"actual\":%s}", val(in));
    else if (strcmp(cmd, "qom-get") == 0 && next(in) % 2)
        snprintf(buf, size,
                 "{\"stats\":{\"stat-total-memory\":%s,\"stat-available-memory\":%s,"
                 "\"stat-free-memory\":%s,\"stat-swap-in\":%s},\"last-update\":%s}",
                 val(in), val(in), val(in), val(in), val(in));
    else
        snprintf(buf, size, "%s", next(in) % 3 ? "{}" : val(in));
}

static void answer(struct peer *p, struct in *in, unsigned how)
{
    char body[512], line[700];
    unsigned long long id;

    if (!p->n_cmds)
        return;
    id = p->ids[0] + (how == 3 ? 1000 : 0);
    if (how == 1)
        reply_body(in, p->cmds[0], body, sizeof(body));
    else
        snprintf(body, sizeof(body), "%s", val(in));
    if (how == 2)
        snprintf(line, sizeof(line), "{\"error\":{\"class\":%s,\"desc\":%s},\"id\":%llu}\r\n",
                 next(in) % 4 ? "\"GenericError\"" : str(in), str(in), id);
    else
        snprintf(line, sizeof(line), "{\"return\":%s,\"id\":%llu}\r\n", body, id);
    put(p, line);
    if (how != 3)
        pop(p);
}

static void event(struct peer *p, struct in *in)
{
    static const char *const names[] = {"BALLOON_CHANGE", "STOP", "RESUME", "SHUTDOWN", "RESET", "X"};
    char line[256];
    unsigned k = next(in);

    if (k & 0x80)
        snprintf(line, sizeof(line), "{\"event\":\"%s\",\"data\":%s}\r\n", names[k % 6], val(in));
    else
        snprintf(line, sizeof(line), "{\"event\":\"%s\",\"data\":{\"actual\":%s}}\r\n", names[k % 6], val(in));
    for (unsigned n = next(in) % 4 + 1; n > 0; n--)
        put(p, line);
}

static void raw(struct peer *p, struct in *in)
{
    char buf[256];
    size_t n = next(in) % sizeof(buf);

    n = min_u64(n, in->n);
    memcpy(buf, in->p, n);
    in->p += n;
    in->n -= n;
    if (p->fd >= 0 && send(p->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* as in put() */
    }
}

static void reconnect(struct peer *p)
{
    struct pollfd pfd = {.fd = p->lfd, .events = POLLIN};

    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    p->rx_len = 0;
    p->n_cmds = 0;
    settle(p); /* the daemon sees the hang-up */
    vm_start(p->vm);
    if (poll(&pfd, 1, 0) == 1)
        p->fd = accept(p->lfd, NULL, NULL);
}

static void act(struct peer *p, struct in *in, unsigned op)
{
    switch (op % 11) {
    case 0: put(p, "{\"QMP\":{\"version\":{\"qemu\":{\"major\":8}},\"capabilities\":[]}}\r\n"); break;
    case 1: case 2: case 3: case 9: answer(p, in, op % 11 == 9 ? 1 : op % 11); break;
    case 4: event(p, in); break;
    case 5: raw(p, in); break;
    case 6: reconnect(p); break;
    case 7:
        p->vm->max_bytes = (uint64_t)(next(in) % 8) << 28;
        p->vm->min_bytes = (uint64_t)(next(in) % 8) << 27;
        vm_send_target(p->vm, strtoull(val(in), NULL, 10) >> (next(in) % 4));
        break;
    case 8:
        /* Unanswered commands pile up without bound otherwise: an input
         * of a few hundred polls took 40 ms of CPU (1 ms is usual). */
        if (p->n_cmds < 16)
            vm_poll(p->vm);
        break;
    case 10:
        while (p->n_cmds)
            answer(p, in, 1);
        break;
    }
}

static int peer_listen(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;

    snprintf(sock_path, sizeof(sock_path), "/tmp/balloond-fuzz-vm.%d", getpid());
    strcpy(sa.sun_path, sock_path);
    unlink(sock_path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0)
        abort();
    return fd;
}

static void cleanup(void)
{
    unlink(sock_path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int lfd = -1;
    struct in in = {data, size};
    struct peer p = {.fd = -1};
    int fd;

    if (lfd < 0) {
        lfd = peer_listen();
        atexit(cleanup);
        log_setup(LOG_EMERG, false);
    }
    p.lfd = lfd;
    if (sd_event_new(&p.ev) < 0 || vm_new(p.ev, "f", sock_path, &p.vm) < 0)
        abort();
    vm_start(p.vm);
    p.fd = accept(lfd, NULL, NULL);
    for (int step = 0; in.n && step < 256; step++) {
        act(&p, &in, next(&in));
        settle(&p);
    }
    vm_free(p.vm);
    sd_event_unref(p.ev);
    if (p.fd >= 0)
        close(p.fd);
    while ((fd = accept(lfd, NULL, NULL)) >= 0) /* a retry the timer made */
        close(fd);
    return 0;
}
