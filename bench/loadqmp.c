/* loadqmp: a QMP load server for `make bench-scale`. One process, one
 * epoll loop, N unix sockets DIR/vm00000.. each played by a modelled
 * guest (loadqmp_guest.c) that answers what balloond asks of a QEMU:
 * the greeting, qmp_capabilities, qom-list (a virtio-balloon-pci child of
 * /machine/peripheral), qom-set guest-stats-polling-interval, qom-get
 * deflate-on-oom and guest-stats, query-memory-size-summary, query-status,
 * query-balloon and balloon; BALLOON_CHANGE as a balloon moves.
 *
 * Usage: loadqmp [-s SEED] [-i INTERVAL_MS] [-r REPORT] DIR N
 * SIGUSR1 opens a measurement window, SIGUSR2 writes its report to REPORT
 * (loadqmp_meas.c says what is in it), SIGTERM ends the server and removes
 * the sockets. Prints "ready" on stdout once every socket listens. Raises
 * its RLIMIT_NOFILE to the hard limit: it holds 2 descriptors a VM. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "loadqmp.h"

#define MODEL_TICK_MS 100

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t wall_s(void)
{
    return (uint64_t)time(NULL);
}

static int ep_add(struct server *s, int fd, uint32_t events, enum kind k, size_t idx)
{
    struct epoll_event e = {.events = events, .data.u64 = ((uint64_t)idx << 2) | k};

    return epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &e);
}

static int raise_nofile(size_t need)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -errno;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -errno;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        fprintf(stderr, "loadqmp: RLIMIT_NOFILE hard limit %llu < %zu needed; run under "
                        "prlimit --nofile=65536:65536\n", (unsigned long long)rl.rlim_cur, need);
        return -EMFILE;
    }
    return 0;
}

static int listen_at(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    unlink(path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

static void sock_path(const struct server *s, size_t i, char *buf, size_t len)
{
    snprintf(buf, len, "%s/vm%05zu", s->dir, i);
}

static int server_listen(struct server *s, uint64_t seed)
{
    char path[4200];

    for (size_t i = 0; i < s->n; i++) {
        struct slot *v = &s->vms[i];
        guest_init(&v->g, (unsigned)i, seed);
        v->c.fd = -1;
        sock_path(s, i, path, sizeof(path));
        v->lfd = listen_at(path);
        if (v->lfd < 0) {
            fprintf(stderr, "loadqmp: %s: %s\n", path, strerror(-v->lfd));
            return v->lfd;
        }
        if (ep_add(s, v->lfd, EPOLLIN, K_LISTEN, i) < 0)
            return -errno;
    }
    return 0;
}

/* ---- output ---------------------------------------------------------- */

static void conn_close(struct server *s, size_t i)
{
    struct conn *c = &s->vms[i].c;

    if (c->fd < 0)
        return;
    close(c->fd); /* also leaves the epoll set */
    free(c->rbuf);
    free(c->wbuf);
    *c = (struct conn){.fd = -1};
    s->n_conn--;
}

static void conn_flush(struct server *s, size_t i)
{
    struct conn *c = &s->vms[i].c;
    size_t off = 0;

    while (off < c->wlen) {
        ssize_t w = write(c->fd, c->wbuf + off, c->wlen - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno != EAGAIN) {
            conn_close(s, i);
            return;
        }
        if (w < 0)
            break;
        off += (size_t)w;
    }
    meas_io(s->meas, 0, off);
    memmove(c->wbuf, c->wbuf + off, c->wlen - off);
    c->wlen -= off;
    if ((c->wlen > 0) != c->want_out) {
        struct epoll_event e = {.events = EPOLLIN | (c->wlen ? EPOLLOUT : 0),
                                .data.u64 = ((uint64_t)i << 2) | K_CONN};
        c->want_out = c->wlen > 0;
        epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &e);
    }
}

/* ---- input ------------------------------------------------------------- */

/* Handles the complete lines in the buffer; false if a line is too long. */
static bool conn_lines(struct server *s, struct slot *v, uint64_t now)
{
    struct conn *c = &v->c;
    size_t start = 0;
    char *nl;

    while ((nl = memchr(c->rbuf + start, '\n', c->rlen - start))) {
        *nl = '\0';
        qmp_handle_line(s, v, c->rbuf + start, now);
        start = (size_t)(nl - c->rbuf) + 1;
    }
    memmove(c->rbuf, c->rbuf + start, c->rlen - start);
    c->rlen -= start;
    return c->rlen < LINE_MAX_BYTES;
}

static void on_readable(struct server *s, size_t i)
{
    struct slot *v = &s->vms[i];
    uint64_t now = now_ms();
    ssize_t r;

    for (;;) {
        r = read(v->c.fd, v->c.rbuf + v->c.rlen, LINE_MAX_BYTES + 1 - v->c.rlen);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        meas_io(s->meas, (size_t)r, 0);
        v->c.rlen += (size_t)r;
        if (!conn_lines(s, v, now)) {
            conn_close(s, i);
            return;
        }
    }
    if (r == 0 || (r < 0 && errno != EAGAIN)) {
        conn_close(s, i);
        return;
    }
    if (v->c.wlen)
        conn_flush(s, i);
}

static void on_accept(struct server *s, size_t i)
{
    static const char greeting[] = "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "
                                   "\"package\": \"loadqmp\"}, \"capabilities\": [\"oob\"]}}\r\n";
    struct slot *v = &s->vms[i];
    int fd = accept4(v->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd < 0)
        return;
    if (v->c.fd >= 0) { /* QEMU serves one client at a time */
        close(fd);
        return;
    }
    v->c = (struct conn){.fd = fd, .rbuf = malloc(LINE_MAX_BYTES + 1)};
    if (!v->c.rbuf || ep_add(s, fd, EPOLLIN, K_CONN, i) < 0) {
        free(v->c.rbuf);
        close(fd);
        v->c = (struct conn){.fd = -1};
        return;
    }
    s->n_conn++;
    conn_out(&v->c, greeting, sizeof(greeting) - 1);
    conn_flush(s, i);
}

/* ---- the model's clock and the signals --------------------------------- */

static void model_one(struct server *s, size_t i, uint64_t now, uint64_t dt)
{
    struct slot *v = &s->vms[i];
    struct guest *g = &v->g;

    guest_move(g, dt);
    if (g->stats_on && now >= g->stats_next_ms && guest_stats_update(g, now, wall_s()))
        meas_rise(s->meas, g, now);
    if (g->event_due && now - g->event_last_ms >= GUEST_EVENT_GAP_MS && v->c.fd >= 0 && v->c.caps) {
        qmp_balloon_change(s, v);
        g->event_due = false;
        g->event_last_ms = now;
        conn_flush(s, i);
    }
}

static void on_timer(struct server *s)
{
    uint64_t expirations, now = now_ms();
    uint64_t dt = now - s->model_ms;

    if (read(s->tfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
        return;
    for (size_t i = 0; i < s->n; i++)
        model_one(s, i, now, dt);
    s->model_ms = now;
}

static void server_report(struct server *s)
{
    uint64_t open = 0;
    int r;

    for (size_t i = 0; i < s->n; i++)
        open += s->vms[i].g.rise_ms != 0;
    r = meas_report(s->meas, s->report, now_ms(), open, s->n, s->n_conn);
    if (r < 0)
        fprintf(stderr, "loadqmp: report %s: %s\n", s->report, strerror(-r));
}

static void on_signal(struct server *s)
{
    struct signalfd_siginfo si;

    while (read(s->sfd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGUSR1) {
            meas_start(s->meas, now_ms());
        } else if (si.ssi_signo == SIGUSR2) {
            server_report(s);
        } else {
            s->stop = true;
        }
    }
}

/* ---- life -------------------------------------------------------------- */

static int server_clocks(struct server *s)
{
    struct itimerspec its = {.it_interval = {0, MODEL_TICK_MS * 1000000L}, .it_value = {0, MODEL_TICK_MS * 1000000L}};
    sigset_t mask;

    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGUSR2);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    s->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (s->sfd < 0 || s->tfd < 0 || timerfd_settime(s->tfd, 0, &its, NULL) < 0)
        return -errno;
    s->model_ms = now_ms();
    if (ep_add(s, s->sfd, EPOLLIN, K_SIGNAL, 0) < 0 || ep_add(s, s->tfd, EPOLLIN, K_TIMER, 0) < 0)
        return -errno;
    return 0;
}

static void server_run(struct server *s)
{
    struct epoll_event evs[256];

    while (!s->stop) {
        int n = epoll_wait(s->ep, evs, 256, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        for (int k = 0; k < n; k++) {
            size_t i = (size_t)(evs[k].data.u64 >> 2);
            enum kind kd = (enum kind)(evs[k].data.u64 & 3);
            if (kd == K_LISTEN)
                on_accept(s, i);
            else if (kd == K_TIMER)
                on_timer(s);
            else if (kd == K_SIGNAL)
                on_signal(s);
            else if (s->vms[i].c.fd >= 0 && (evs[k].events & EPOLLIN))
                on_readable(s, i);
            else if (s->vms[i].c.fd >= 0 && (evs[k].events & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
                conn_flush(s, i);
        }
    }
}

static void server_close(struct server *s)
{
    char path[4200];

    for (size_t i = 0; s->vms && i < s->n; i++) {
        conn_close(s, i);
        if (s->vms[i].lfd >= 0) {
            close(s->vms[i].lfd);
            sock_path(s, i, path, sizeof(path));
            unlink(path);
        }
    }
    free(s->vms);
    meas_free(s->meas);
}

static int usage(void)
{
    fprintf(stderr, "usage: loadqmp [-s SEED] [-i INTERVAL_MS] [-r REPORT] DIR N\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct server s = {.report = "loadqmp.report", .ep = -1};
    uint64_t seed = 1, interval_ms = 1000;
    int opt, r;

    while ((opt = getopt(argc, argv, "s:i:r:")) != -1) {
        if (opt == 's')
            seed = strtoull(optarg, NULL, 10);
        else if (opt == 'i')
            interval_ms = strtoull(optarg, NULL, 10);
        else if (opt == 'r')
            s.report = optarg;
        else
            return usage();
    }
    if (argc - optind != 2 || interval_ms == 0 || (s.n = strtoul(argv[optind + 1], NULL, 10)) == 0)
        return usage();
    s.dir = argv[optind];
    s.vms = calloc(s.n, sizeof(*s.vms));
    s.meas = meas_new(interval_ms);
    for (size_t i = 0; s.vms && i < s.n; i++)
        s.vms[i].lfd = -1;
    s.ep = epoll_create1(EPOLL_CLOEXEC);
    r = !s.vms || !s.meas || s.ep < 0 ? -ENOMEM : raise_nofile(2 * s.n + 16);
    if (r == 0)
        r = server_clocks(&s);
    if (r == 0)
        r = server_listen(&s, seed);
    if (r == 0) {
        printf("ready %zu\n", s.n);
        fflush(stdout);
        server_run(&s);
    } else {
        fprintf(stderr, "loadqmp: cannot start: %s\n", strerror(-r));
    }
    server_close(&s);
    return r < 0 ? 1 : 0;
}
