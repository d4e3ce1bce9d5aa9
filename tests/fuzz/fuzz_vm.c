/* fuzz_vm: the whole QMP connection state machine, qmp.c, qmp_vm.c and vm.c on the
 * daemon's sd-event loop, against a scripted peer on a real unix socket.
 * The input decides, step by step, what the peer does: greet, answer the
 * oldest command well, badly, with an error or a wrong id, send events
 * (BALLOON_CHANGE, RESET ...), raw bytes, hang up; and what the daemon
 * does: poll, send a target within bounds the input chooses. Invariant
 * checked on every balloon command the peer receives: the value is in
 * [max(min, 1), max] (issue 9, point 3). Found issue 9's point 1 at once.
 *
 * Fast enough for 10^7 inputs (syscalls are what an input costs): one
 * loop and one listening socket for the process (the daemon too runs
 * VMs come and go on one loop), the peer's bytes of a step go out in one
 * send, a step that changed nothing does not run the loop, and the
 * peer reads the daemon's commands without json-c (its fixed format is
 * checked instead). */
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
    char tx[8192];           /* what the peer says in this step */
    size_t tx_len;
    bool acted;              /* the step gave the daemon something to do */
    uint64_t ids[64];
    char cmds[64][32];
    size_t n_cmds;
};

static char sock_path[108];

static void flush(struct peer *p)
{
    if (p->fd >= 0 && p->tx_len && send(p->fd, p->tx, p->tx_len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* a full socket: what did not fit is lost, as a peer's would be */
    }
    p->tx_len = 0;
}

static void put_n(struct peer *p, const char *s, size_t n)
{
    if (p->tx_len + n > sizeof(p->tx))
        flush(p);
    if (n > sizeof(p->tx))
        n = sizeof(p->tx);
    memcpy(p->tx + p->tx_len, s, n);
    p->tx_len += n;
    p->acted |= n > 0;
}

static void put(struct peer *p, const char *s)
{
    put_n(p, s, strlen(s));
}

/* The number after "key": in line, or trap: every command the daemon
 * sends is json-c's plain print of {"execute":..,"arguments":..,"id":N}. */
static uint64_t num_after(const char *line, const char *key)
{
    const char *at = NULL;
    char *end;
    uint64_t v;

    /* the last one: "id" ends the command, a string holds no bare quote */
    for (const char *f = line; (f = strstr(f, key)); f++)
        at = f;
    if (!at)
        __builtin_trap();
    at += strlen(key);
    errno = 0;
    v = strtoull(at, &end, 10);
    if (end == at || errno || (*end != ',' && *end != '}') || *at == '-')
        __builtin_trap();
    return v;
}

/* A command line from the daemon: queue its id, check a balloon value. */
static void on_line(struct peer *p, const char *line)
{
    static const char head[] = "{\"execute\":\"";
    size_t len = strlen(line), n;
    const char *cmd;
    uint64_t id;

    /* the daemon sends only well-formed commands */
    if (strncmp(line, head, sizeof(head) - 1) != 0 || len < sizeof(head) || line[len - 1] != '}')
        __builtin_trap();
    cmd = line + sizeof(head) - 1;
    n = strcspn(cmd, "\"\\");
    if (cmd[n] != '"' || n == 0 || n >= sizeof(p->cmds[0]))
        __builtin_trap();
    id = num_after(line, "\"id\":");
    if (n == 7 && strncmp(cmd, "balloon", 7) == 0) {
        uint64_t t = num_after(line, "\"arguments\":{\"value\":");
        /* (a min above max gives way to max) */
        if (t == 0 || t > p->vm->set.max_bytes || (t < p->vm->set.min_bytes && p->vm->set.min_bytes <= p->vm->set.max_bytes))
            __builtin_trap(); /* a target out of [min, max] left the daemon */
    }
    if (p->n_cmds < ARRAY_SIZE(p->ids)) {
        p->ids[p->n_cmds] = id;
        memcpy(p->cmds[p->n_cmds], cmd, n);
        p->cmds[p->n_cmds][n] = '\0';
        p->n_cmds++;
    }
}

/* Runs the daemon's loop until it is idle, reading what it sends. The
 * daemon sends only from a dispatch or from a call the step made: the
 * peer reads once after the first run and after each dispatch, and a
 * run that dispatched nothing means the loop is idle. */
static void settle(struct peer *p)
{
    flush(p);
    for (int i = 0; i < 8; i++) {
        char *nl;
        ssize_t n = -1;
        int r = sd_event_run(p->ev, 0);
        if (p->fd >= 0 && (r > 0 || i == 0))
            n = recv(p->fd, p->rx + p->rx_len, sizeof(p->rx) - 1 - p->rx_len, MSG_DONTWAIT);
        if (n > 0)
            p->rx_len += (size_t)n;
        while ((nl = memchr(p->rx, '\n', p->rx_len))) {
            *nl = '\0';
            on_line(p, p->rx);
            p->rx_len -= (size_t)(nl + 1 - p->rx);
            memmove(p->rx, nl + 1, p->rx_len);
        }
        if (r <= 0)
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
    put_n(p, buf, n);
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
    p->vm->ops->start(p->vm->session);
    if (poll(&pfd, 1, 0) == 1)
        p->fd = accept(p->lfd, NULL, NULL);
}

static void act(struct peer *p, struct in *in, unsigned op)
{
    /* (the peer's own bytes set p->acted in put_n) */
    p->acted |= op % 11 == 6 || op % 11 == 7 || (op % 11 == 8 && p->n_cmds < 16);
    switch (op % 11) {
    case 0: put(p, "{\"QMP\":{\"version\":{\"qemu\":{\"major\":8}},\"capabilities\":[]}}\r\n"); break;
    case 1: case 2: case 3: case 9: answer(p, in, op % 11 == 9 ? 1 : op % 11); break;
    case 4: event(p, in); break;
    case 5: raw(p, in); break;
    case 6: reconnect(p); break;
    case 7:
        p->vm->set.max_bytes = (uint64_t)(next(in) % 8) << 28;
        p->vm->set.min_bytes = (uint64_t)(next(in) % 8) << 27;
        vm_send_target(p->vm, strtoull(val(in), NULL, 10) >> (next(in) % 4));
        break;
    case 8:
        /* Unanswered commands pile up without bound otherwise: an input
         * of a few hundred polls took 40 ms of CPU (1 ms is usual). */
        if (p->n_cmds < 16)
            p->vm->ops->poll(p->vm->session, 1);
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
    static sd_event *ev;
    struct in in = {data, size};
    struct peer p = {.fd = -1};
    int fd;

    if (lfd < 0) {
        lfd = peer_listen();
        atexit(cleanup);
        log_setup(LOG_EMERG, false);
        /* One loop for all inputs, as in the daemon, where VMs come and
         * go on one loop: vm_free() leaves nothing of a VM on it. */
        if (sd_event_new(&ev) < 0)
            abort();
    }
    p.lfd = lfd;
    p.ev = ev;
    if (vm_attach(&backend_qmp, ev, "f", sock_path, &(struct backend_attach){0}, &p.vm) < 0)
        abort();
    p.vm->ops->start(p.vm->session);
    p.fd = accept(lfd, NULL, NULL);
    for (int step = 0; in.n && step < 256; step++) {
        act(&p, &in, next(&in));
        if (p.acted) /* a step that changed nothing leaves the loop idle */
            settle(&p);
        p.acted = false;
    }
    vm_free(p.vm);
    if (p.fd >= 0)
        close(p.fd);
    while ((fd = accept(lfd, NULL, NULL)) >= 0) /* a retry the timer made */
        close(fd);
    return 0;
}
