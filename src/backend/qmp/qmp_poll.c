/* qmp_poll.c: one epoll set for every QMP socket (see qmp_poll.h). */
#include "qmp_poll.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "util.h"

#define BATCH 256

struct deferred {
    void (*destroy)(void *obj);
    void *obj;
};

struct qmp_poller {
    sd_event *ev;
    sd_event_source *src;
    int epfd;
    unsigned refs;
    qmp_poll_fn fn;
    unsigned busy;
    struct deferred *deferred;
    size_t n_deferred, cap_deferred;
};

static struct qmp_poller *the_poller;

static void run_deferred(struct qmp_poller *p)
{
    /* A destroy may defer more (it never does today): take the list. */
    while (p->n_deferred) {
        struct deferred d = p->deferred[--p->n_deferred];
        d.destroy(d.obj);
    }
}

static int on_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    struct qmp_poller *p = userdata;
    struct epoll_event evs[BATCH];
    int n;

    p->refs++; /* the last connection may go during the batch */
    p->busy++;
    do {
        n = epoll_wait(p->epfd, evs, BATCH, 0);
        for (int i = 0; i < n; i++)
            p->fn(evs[i].data.ptr, evs[i].events);
    } while (n == BATCH);
    if (--p->busy == 0)
        run_deferred(p);
    qmp_poll_put(p);
    return 0;
}

int qmp_poll_get(sd_event *ev, qmp_poll_fn fn, struct qmp_poller **out)
{
    struct qmp_poller *p = the_poller;
    int r;

    if (p && p->ev != ev)
        return -EBUSY; /* one loop per process */
    if (!p) {
        p = calloc(1, sizeof(*p));
        if (!p)
            return -ENOMEM;
        p->epfd = epoll_create1(EPOLL_CLOEXEC);
        r = p->epfd < 0 ? -errno : sd_event_add_io(ev, &p->src, p->epfd, EPOLLIN, on_ready, p);
        if (r < 0) {
            if (p->epfd >= 0)
                close(p->epfd);
            free(p);
            return r;
        }
        /* Behind the control socket, /metrics and the tick's timers: a
         * burst of QMP replies never delays an operator's command. */
        sd_event_source_set_priority(p->src, SD_EVENT_PRIORITY_NORMAL + 10);
        p->ev = sd_event_ref(ev);
        p->fn = fn;
        the_poller = p;
    }
    p->refs++;
    *out = p;
    return 0;
}

void qmp_poll_put(struct qmp_poller *p)
{
    if (!p || --p->refs > 0)
        return;
    sd_event_source_disable_unref(p->src);
    close(p->epfd);
    sd_event_unref(p->ev);
    free(p->deferred);
    if (the_poller == p)
        the_poller = NULL;
    free(p);
}

int qmp_poll_add(struct qmp_poller *p, int fd, uint32_t events, void *obj)
{
    struct epoll_event e = {.events = events, .data.ptr = obj};

    return epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &e) < 0 ? -errno : 0;
}

int qmp_poll_mod(struct qmp_poller *p, int fd, uint32_t old_events, uint32_t events, void *obj)
{
    struct epoll_event e = {.events = events, .data.ptr = obj};

    if (old_events == events)
        return 0;
    return epoll_ctl(p->epfd, EPOLL_CTL_MOD, fd, &e) < 0 ? -errno : 0;
}

void qmp_poll_del(struct qmp_poller *p, int fd)
{
    epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
}

bool qmp_poll_busy(const struct qmp_poller *p)
{
    return p->busy > 0;
}

int qmp_poll_defer(struct qmp_poller *p, void (*destroy)(void *obj), void *obj)
{
    if (grow_reserve(&p->deferred, &p->cap_deferred, p->n_deferred + 1, sizeof(*p->deferred), 16) < 0)
        return -ENOMEM;
    p->deferred[p->n_deferred++] = (struct deferred){destroy, obj};
    return 0;
}
