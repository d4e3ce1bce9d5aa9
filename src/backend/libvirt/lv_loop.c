/* lv_loop.c: libvirt's event loop implementation on sd-event (see
 * lv_loop.h for the contract it keeps). */
#include "lv_loop.h"
#include <errno.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "util.h"

/* sd-event's default accuracy is 250 ms, which would let a keepalive ping
 * or a queued domain event wait a quarter of a second; libvirt's own poll
 * loop is exact to the millisecond. */
#define LV_TIMER_ACCURACY_US 1000

/* A handle or a timeout libvirt registered. Every field is read and
 * written under lv.lock; es (the sd-event source) is touched only on the
 * loop thread. */
struct lv_src {
    struct lv_src *next;
    int id;
    bool is_timer;
    /* handle: libvirt's descriptor (given back to its callback) and our
     * duplicate of it, which is what epoll watches. The duplicate keeps
     * the number ours until the loop thread drops the watch: libvirt may
     * close its descriptor right after a remove from another thread, and
     * a new connection may get the same number before the loop applies
     * the remove (an epoll_ctl(DEL) by number would then drop the new
     * socket's watch). It also lets libvirt register one descriptor twice
     * with disjoint events, which epoll refuses (EEXIST). */
    int fd;
    int own_fd;
    int events;        /* handle: VIR_EVENT_HANDLE_* wanted, 0 none */
    int interval_ms;   /* timer: -1 off, 0 every iteration, N periodic */
    bool dirty;        /* changed off the loop thread, not applied yet */
    bool removed;      /* ff and free pending, on the loop thread */
    virEventHandleCallback handle_cb;
    virEventTimeoutCallback timer_cb;
    void *opaque;
    virFreeCallback ff;
    sd_event_source *es;
};

/* libvirt's callbacks carry no context pointer: one state per process. */
static struct {
    pthread_mutex_t lock;
    sd_event *ev;
    pthread_t loop_thread;
    int wake_fd;
    sd_event_source *wake;
    struct lv_src *srcs;   /* removed ones stay until the loop reaps them */
    int next_watch;
    int next_timer;
} lv = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake_fd = -1,
    .next_watch = 1,
    .next_timer = 1,
};

unsigned lv_loop_epoll_events(int vir_events)
{
    return (vir_events & VIR_EVENT_HANDLE_READABLE ? EPOLLIN : 0) |
           (vir_events & VIR_EVENT_HANDLE_WRITABLE ? EPOLLOUT : 0) |
           (vir_events & VIR_EVENT_HANDLE_ERROR ? EPOLLERR : 0) |
           (vir_events & VIR_EVENT_HANDLE_HANGUP ? EPOLLHUP : 0);
}

int lv_loop_vir_events(unsigned epoll_events)
{
    return (epoll_events & EPOLLIN ? VIR_EVENT_HANDLE_READABLE : 0) |
           (epoll_events & EPOLLOUT ? VIR_EVENT_HANDLE_WRITABLE : 0) |
           (epoll_events & EPOLLERR ? VIR_EVENT_HANDLE_ERROR : 0) |
           (epoll_events & EPOLLHUP ? VIR_EVENT_HANDLE_HANGUP : 0);
}

static bool on_loop_thread(void)
{
    return pthread_equal(pthread_self(), lv.loop_thread);
}

static void wake_loop(void)
{
    uint64_t one = 1;

    /* Only EAGAIN is possible (the counter is full), and then the loop
     * is woken anyway. */
    if (write(lv.wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_err("libvirt event loop: cannot wake the loop: %s", strerror(errno));
}

static struct lv_src *src_find(int id, bool is_timer)
{
    for (struct lv_src *s = lv.srcs; s; s = s->next)
        if (s->id == id && s->is_timer == is_timer && !s->removed)
            return s;
    return NULL;
}

/* Periodic from now: the time the timer fired or was (re)set, as
 * libvirt's poll and GLib loops do. 0 ms is "now", so the timer is due
 * again at the next iteration. Lock held, loop thread. */
static int timer_arm(struct lv_src *s)
{
    uint64_t now_us;
    int r = sd_event_now(lv.ev, CLOCK_MONOTONIC, &now_us);

    if (r < 0)
        return r;
    r = sd_event_source_set_time(s->es, now_us + (uint64_t)s->interval_ms * 1000);
    if (r < 0)
        return r;
    return sd_event_source_set_enabled(s->es, SD_EVENT_ONESHOT);
}

static int on_timer(sd_event_source *es, uint64_t usec, void *userdata)
{
    struct lv_src *s = userdata;

    pthread_mutex_lock(&lv.lock);
    bool fire = !s->removed && s->interval_ms >= 0;
    if (fire && timer_arm(s) < 0)
        log_err("libvirt event loop: cannot re-arm timer %d", s->id);
    virEventTimeoutCallback cb = s->timer_cb;
    int id = s->id;
    void *opaque = s->opaque;
    pthread_mutex_unlock(&lv.lock);
    /* Never under our lock: the callback takes libvirt's locks and calls
     * back into us, and other threads hold libvirt's locks while they do. */
    if (fire)
        cb(id, opaque);
    return 0;
}

static int on_handle(sd_event_source *es, int fd, uint32_t revents, void *userdata)
{
    struct lv_src *s = userdata;

    pthread_mutex_lock(&lv.lock);
    /* Error and hangup are reported even when not asked for, as poll()
     * does for libvirt's own loops; the rest only while still wanted (a
     * change from another thread may not be applied yet). */
    int events = lv_loop_vir_events(revents) &
                 (s->events | VIR_EVENT_HANDLE_ERROR | VIR_EVENT_HANDLE_HANGUP);
    bool fire = !s->removed && s->events != 0 && events != 0;
    virEventHandleCallback cb = s->handle_cb;
    int id = s->id, lv_fd = s->fd;
    void *opaque = s->opaque;
    pthread_mutex_unlock(&lv.lock);
    if (fire)
        cb(id, lv_fd, events, opaque);
    return 0;
}

static int timer_apply(struct lv_src *s)
{
    int r;

    if (!s->es) {
        r = sd_event_add_time(lv.ev, &s->es, CLOCK_MONOTONIC, UINT64_MAX,
                              LV_TIMER_ACCURACY_US, on_timer, s);
        if (r < 0)
            return r;
        (void)sd_event_source_set_description(s->es, "libvirt-timer");
    }
    if (s->interval_ms < 0)
        return sd_event_source_set_enabled(s->es, SD_EVENT_OFF);
    return timer_arm(s);
}

static int handle_apply(struct lv_src *s)
{
    int r;

    if (!s->es) {
        r = sd_event_add_io(lv.ev, &s->es, s->own_fd, EPOLLIN, on_handle, s);
        if (r < 0)
            return r;
        (void)sd_event_source_set_description(s->es, "libvirt-handle");
    }
    /* No events: off, not an empty mask (epoll would still report a
     * hangup, over and over). */
    if (s->events == 0)
        return sd_event_source_set_enabled(s->es, SD_EVENT_OFF);
    r = sd_event_source_set_io_events(s->es, lv_loop_epoll_events(s->events));
    if (r < 0)
        return r;
    return sd_event_source_set_enabled(s->es, SD_EVENT_ON);
}

/* Makes s's sd-event source match what libvirt asked for. Lock held,
 * loop thread. A removed source is dropped here; its ff waits for the
 * reaper. */
static int src_apply(struct lv_src *s)
{
    s->dirty = false;
    if (s->removed) {
        s->es = sd_event_source_disable_unref(s->es);
        return 0;
    }
    return s->is_timer ? timer_apply(s) : handle_apply(s);
}

/* After s changed under the lock: applied now on the loop thread, else
 * left for the loop. Returns whether the loop must be woken (also to
 * reap a removed source, whose ff must not run from inside remove). */
static bool src_changed(struct lv_src *s)
{
    if (on_loop_thread() && src_apply(s) == 0)
        return s->removed;
    s->dirty = true;
    return true;
}

static void src_free(struct lv_src *s)
{
    if (s->own_fd >= 0)
        close(s->own_fd);
    free(s);
}

/* The loop's side: apply what other threads changed, then drop removed
 * sources and call their ff, on a clean stack and after their callback
 * can no longer run (it runs only on this thread, and its source is
 * gone). */
static int on_wake(sd_event_source *es, int fd, uint32_t revents, void *userdata)
{
    struct lv_src *dead = NULL;
    uint64_t n;

    if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        log_err("libvirt event loop: wake-up read: %s", strerror(errno));
    pthread_mutex_lock(&lv.lock);
    for (struct lv_src **pp = &lv.srcs; *pp;) {
        struct lv_src *s = *pp;
        int r = s->dirty ? src_apply(s) : 0;
        if (r < 0)
            log_err("libvirt event loop: %s %d: %s", s->is_timer ? "timer" : "watch",
                    s->id, strerror(-r));
        if (!s->removed) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        s->es = sd_event_source_disable_unref(s->es);
        s->next = dead;
        dead = s;
    }
    pthread_mutex_unlock(&lv.lock);
    while (dead) {
        struct lv_src *s = dead;
        dead = s->next;
        if (s->ff)
            s->ff(s->opaque);
        src_free(s);
    }
    return 0;
}

/* Hands out s's id and links it in. On failure (only on the loop thread,
 * where the source is made at once) s is freed and -1 returned; the
 * caller keeps its opaque, and ff is not called. */
static int src_add(struct lv_src *s, int *next_id)
{
    pthread_mutex_lock(&lv.lock);
    s->id = (*next_id)++;
    bool here = on_loop_thread();
    int r = here ? src_apply(s) : 0;
    if (r < 0) {
        pthread_mutex_unlock(&lv.lock);
        log_err("libvirt event loop: cannot add %s: %s", s->is_timer ? "a timer" : "a watch",
                strerror(-r));
        sd_event_source_disable_unref(s->es);
        src_free(s);
        return -1;
    }
    s->dirty = !here;
    s->next = lv.srcs;
    lv.srcs = s;
    int id = s->id;
    pthread_mutex_unlock(&lv.lock);
    if (!here)
        wake_loop();
    return id;
}

static int lv_add_handle(int fd, int events, virEventHandleCallback cb, void *opaque,
                         virFreeCallback ff)
{
    struct lv_src *s = calloc(1, sizeof(*s));

    if (!s)
        return -1;
    s->own_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (s->own_fd < 0) {
        log_err("libvirt event loop: cannot watch fd %d: %s", fd, strerror(errno));
        free(s);
        return -1;
    }
    s->fd = fd;
    s->events = events;
    s->handle_cb = cb;
    s->opaque = opaque;
    s->ff = ff;
    return src_add(s, &lv.next_watch);
}

static int lv_add_timeout(int interval_ms, virEventTimeoutCallback cb, void *opaque,
                          virFreeCallback ff)
{
    struct lv_src *s = calloc(1, sizeof(*s));

    if (!s)
        return -1;
    s->is_timer = true;
    s->own_fd = -1;
    s->interval_ms = interval_ms;
    s->timer_cb = cb;
    s->opaque = opaque;
    s->ff = ff;
    return src_add(s, &lv.next_timer);
}

/* update (value >= -1) or remove (remove true) of a watch or a timer.
 * -1 when id is unknown or already removed. */
static int src_change(int id, bool is_timer, bool remove, int value)
{
    pthread_mutex_lock(&lv.lock);
    struct lv_src *s = src_find(id, is_timer);
    if (!s) {
        pthread_mutex_unlock(&lv.lock);
        return -1;
    }
    if (remove)
        s->removed = true;
    else if (is_timer)
        s->interval_ms = value;
    else
        s->events = value;
    bool wake = src_changed(s);
    pthread_mutex_unlock(&lv.lock);
    if (wake)
        wake_loop();
    return 0;
}

static void lv_update_handle(int watch, int events)
{
    (void)src_change(watch, false, false, events);
}

static int lv_remove_handle(int watch)
{
    return src_change(watch, false, true, 0);
}

static void lv_update_timeout(int timer, int interval_ms)
{
    (void)src_change(timer, true, false, interval_ms);
}

static int lv_remove_timeout(int timer)
{
    return src_change(timer, true, true, 0);
}

int lv_loop_register(sd_event *ev)
{
    int r;

    if (lv.ev)
        return -EALREADY;
    lv.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (lv.wake_fd < 0)
        return -errno;
    r = sd_event_add_io(ev, &lv.wake, lv.wake_fd, EPOLLIN, on_wake, NULL);
    if (r < 0)
        goto close_fd;
    /* Before any libvirt handle in the same iteration: a watch another
     * thread turned off is off before its descriptor is dispatched. */
    r = sd_event_source_set_priority(lv.wake, SD_EVENT_PRIORITY_IMPORTANT);
    if (r < 0)
        goto unref_wake;
    (void)sd_event_source_set_description(lv.wake, "libvirt-wake");
    lv.ev = sd_event_ref(ev);
    lv.loop_thread = pthread_self();
    virEventRegisterImpl(lv_add_handle, lv_update_handle, lv_remove_handle,
                         lv_add_timeout, lv_update_timeout, lv_remove_timeout);
    return 0;

unref_wake:
    lv.wake = sd_event_source_unref(lv.wake);
close_fd:
    close(lv.wake_fd);
    lv.wake_fd = -1;
    return r;
}
