/* qmp.c: QMP client (see qmp.h). */
#include "qmp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qmp_poll.h"
#include "util.h"

/* ---- the connection ----------------------------------------------------- */

enum qmp_state { QMP_CLOSED, QMP_CONNECTING, QMP_GREETING, QMP_CAPS, QMP_READY };

struct qmp_pending {
    struct qmp_pending *next;
    uint64_t id;
    uint64_t deadline_ms;
    char cmd[48];
    qmp_reply_fn fn;
    void *userdata;
};

struct qmp {
    sd_event *ev;
    char *path;
    char *name;
    const struct qmp_ops *ops;
    void *userdata;

    enum qmp_state state;
    int fd;
    pid_t pid;
    uid_t uid;
    gid_t gid;
    struct qmp_poller *poller;  /* the socket is in its epoll set while polled */
    bool polled;
    uint32_t io_events;
    sd_event_source *timer;
    uint64_t timer_ms;          /* when the timer fires; 0: off */
    unsigned timeout_ms;        /* a command's, QMP_COMMAND_TIMEOUT_MS */
    struct qmp_reader *reader;
    char *out;
    size_t out_len, out_cap;
    uint64_t next_id;
    struct qmp_pending *pending, **pending_tail;
    /* Bumped on every close, so a callback can tell that the connection
     * it was dispatched from is gone. */
    uint64_t generation;
    /* While messages are dispatched to callbacks, a close or a free from
     * inside one must not pull the reader or q from under the caller:
     * the reader lives as long as q, the feed stops at the next line
     * (generation), and qmp_free is deferred until the dispatch ends. */
    unsigned dispatching;
    bool free_deferred;
};

/* The timer is armed lazily: only when nothing earlier is armed. Every
 * command shares one timeout, so the head of the FIFO has the earliest
 * deadline; a timer that fires with nothing overdue re-arms for the head
 * then (qmp_timeout). With a command a second and a 10 s timeout this is
 * one timer change per connection every 10 s instead of two per command
 * (issue 12: the timer queue was 3% of balloond's time at 1000 VMs).
 * While greeting, it keeps the deadline qmp_connect() set. */
static void qmp_set_timer(struct qmp *q, uint64_t at_ms)
{
    q->timer_ms = at_ms;
    if (!at_ms) {
        sd_event_source_set_enabled(q->timer, SD_EVENT_OFF);
        return;
    }
    sd_event_source_set_time(q->timer, at_ms * 1000);
    sd_event_source_set_enabled(q->timer, SD_EVENT_ONESHOT);
}

static void qmp_arm_timer(struct qmp *q)
{
    if (q->pending && (!q->timer_ms || q->timer_ms > q->pending->deadline_ms))
        qmp_set_timer(q, q->pending->deadline_ms);
}

static void qmp_drop_pending(struct qmp *q)
{
    while (q->pending) {
        struct qmp_pending *p = q->pending;
        q->pending = p->next;
        free(p);
    }
    q->pending_tail = &q->pending;
}

static void qmp_destroy(struct qmp *q);

/* Around every call out to the owner: a qmp_free from inside the
 * callback is carried out when the outermost one returns. Returns true
 * when q is gone. */
static void qmp_enter(struct qmp *q)
{
    q->dispatching++;
}

static void qmp_destroy_cb(void *obj)
{
    qmp_destroy(obj);
}

/* Destroys q now, or after the poller's batch when one is being served
 * (a later event of the batch may still name q). */
static void qmp_destroy_soon(struct qmp *q)
{
    if (!qmp_poll_busy(q->poller) || qmp_poll_defer(q->poller, qmp_destroy_cb, q) < 0)
        qmp_destroy(q);
}

static bool qmp_leave(struct qmp *q)
{
    if (--q->dispatching > 0 || !q->free_deferred)
        return false;
    qmp_destroy_soon(q);
    return true;
}

void qmp_close(struct qmp *q, int err, const char *why)
{
    bool notify = q->state != QMP_CLOSED;

    if (q->polled)
        qmp_poll_del(q->poller, q->fd);
    q->polled = false;
    qmp_set_timer(q, 0);
    if (q->fd >= 0)
        close(q->fd);
    q->fd = -1;
    q->state = QMP_CLOSED;
    q->out_len = 0;
    q->pid = 0;
    q->generation++;
    qmp_drop_pending(q);
    qmp_reader_reset(q->reader);
    if (notify && q->ops->closed) {
        qmp_enter(q);
        q->ops->closed(q, err, why, q->userdata);
        qmp_leave(q);
    }
}

static int qmp_flush(struct qmp *q)
{
    while (q->out_len > 0) {
        ssize_t n = send(q->fd, q->out, q->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            return -errno;
        }
        memmove(q->out, q->out + n, q->out_len - (size_t)n);
        q->out_len -= (size_t)n;
    }
    uint32_t events = EPOLLIN | (q->out_len ? EPOLLOUT : 0);
    int r = qmp_poll_mod(q->poller, q->fd, q->io_events, events, q);
    if (r == 0)
        q->io_events = events;
    return r;
}

/* Ends the len bytes just written at the end of the output buffer (with
 * room for one more) with a newline, and sends what it can: one send per
 * command, not one for the JSON and another for its newline. */
static int qmp_queue_line(struct qmp *q, size_t len)
{
    q->out[q->out_len + len] = '\n';
    q->out_len += len + 1;
    return qmp_flush(q);
}

/* {"execute":CMD,"arguments":ARGS,"id":N}: cmd is one of our own
 * command names (letters, digits, '-' and '_': nothing to escape), args
 * serialised JSON or NULL. Written straight into the output buffer: no
 * json-c objects for the message around the arguments. */
static int qmp_send_raw(struct qmp *q, const char *cmd, const char *args, qmp_reply_fn fn, void *userdata)
{
    struct qmp_pending *p;
    size_t max = strlen(cmd) + (args ? strlen(args) : 0) + 64;
    int len, r;

    if (cmd[strspn(cmd, "abcdefghijklmnopqrstuvwxyz0123456789-_")] != '\0')
        return -EINVAL;
    p = calloc(1, sizeof(*p));
    if (!p || grow_reserve(&q->out, &q->out_cap, q->out_len + max, 1, 1024) < 0) {
        free(p);
        return -ENOMEM;
    }
    p->id = ++q->next_id;
    p->deadline_ms = now_ms() + q->timeout_ms;
    snprintf(p->cmd, sizeof(p->cmd), "%s", cmd);
    p->fn = fn;
    p->userdata = userdata;
    len = snprintf(q->out + q->out_len, max, "{\"execute\":\"%s\"%s%s,\"id\":%llu}", cmd,
                   args ? ",\"arguments\":" : "", args ? args : "", (unsigned long long)p->id);
    r = qmp_queue_line(q, (size_t)len);
    if (r < 0) {
        free(p);
        return r;
    }
    *q->pending_tail = p;
    q->pending_tail = &p->next;
    qmp_arm_timer(q);
    return 0;
}

static int qmp_send(struct qmp *q, const char *cmd, json_object *args, qmp_reply_fn fn, void *userdata)
{
    const char *s = args ? json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN) : NULL;
    int r = args && !s ? -ENOMEM : qmp_send_raw(q, cmd, s, fn, userdata);

    json_object_put(args);
    return r;
}

/* A send that failed on the socket closes the connection. */
static int qmp_sent(struct qmp *q, int r)
{
    if (r < 0 && r != -ENOMEM && r != -EINVAL) {
        qmp_close(q, r, "write failed");
        return -ENOTCONN;
    }
    return r;
}

int qmp_command_raw(struct qmp *q, const char *cmd, const char *args_json, qmp_reply_fn fn, void *userdata)
{
    if (q->state != QMP_READY)
        return -ENOTCONN;
    return qmp_sent(q, qmp_send_raw(q, cmd, args_json, fn, userdata));
}

int qmp_command(struct qmp *q, const char *cmd, json_object *args, qmp_reply_fn fn, void *userdata)
{
    if (q->state != QMP_READY) {
        json_object_put(args);
        return -ENOTCONN;
    }
    return qmp_sent(q, qmp_send(q, cmd, args, fn, userdata));
}

static void qmp_caps_reply(struct qmp *q, const struct qmp_msg *m, void *userdata)
{
    if (m->type == QMP_MSG_ERROR) {
        qmp_close(q, -EPROTO, "qmp_capabilities was refused");
        return;
    }
    q->state = QMP_READY;
    if (q->ops->ready)
        q->ops->ready(q, q->userdata);
}

static int qmp_dispatch_one(struct qmp *q, json_object *obj);

/* Runs one message through the callbacks; -ECANCELED stops the reader
 * when one of them closed (or freed) the connection. */
static int qmp_dispatch(json_object *obj, void *userdata)
{
    struct qmp *q = userdata;
    uint64_t gen = q->generation;
    int r = qmp_dispatch_one(q, obj);

    if (q->generation != gen || q->free_deferred)
        return -ECANCELED;
    return r;
}

static int qmp_dispatch_one(struct qmp *q, json_object *obj)
{
    struct qmp_pending **pp, *p;
    struct qmp_msg m;

    if (qmp_classify(obj, &m) < 0)
        return -EBADMSG;
    switch (m.type) {
    case QMP_MSG_GREETING:
        if (q->state != QMP_GREETING)
            return -EBADMSG;
        q->state = QMP_CAPS;
        return qmp_send(q, "qmp_capabilities", NULL, qmp_caps_reply, NULL);
    case QMP_MSG_EVENT:
        if (q->state == QMP_READY && q->ops->event)
            q->ops->event(q, &m, q->userdata);
        return 0;
    case QMP_MSG_RETURN:
    case QMP_MSG_ERROR:
        break;
    }
    if (q->state == QMP_GREETING)
        return -EBADMSG;
    for (pp = &q->pending; *pp; pp = &(*pp)->next)
        if (m.has_id && (*pp)->id == m.id)
            break;
    if (!*pp) {
        log_debug("vm %s: dropped a reply with an unknown id", q->name);
        return 0;
    }
    p = *pp;
    *pp = p->next;
    if (!*pp)
        q->pending_tail = pp;
    qmp_arm_timer(q);
    if (p->fn)
        p->fn(q, &m, p->userdata);
    free(p);
    return 0;
}

static void qmp_read(struct qmp *q, int fd, uint32_t revents)
{
    char buf[16384];

    if (revents & EPOLLOUT) {
        int r = qmp_flush(q);
        if (r < 0) {
            qmp_close(q, r, "write failed");
            return;
        }
    }
    if (!(revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    for (;;) {
        uint64_t gen = q->generation;
        const char *why = NULL;
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        int r;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            qmp_close(q, n == 0 ? -ECONNRESET : -errno,
                      n == 0 ? "QEMU closed the connection" : "read failed");
            return;
        }
        r = qmp_reader_feed(q->reader, buf, (size_t)n, qmp_dispatch, q, &why);
        if (q->generation != gen || q->free_deferred)
            return; /* closed or freed by a callback */
        if (r < 0) {
            char msg[96];
            snprintf(msg, sizeof(msg), "protocol error: %s", why ? why : strerror(-r));
            qmp_close(q, r, msg);
            return;
        }
        /* A short read emptied the socket: no recv just to hear EAGAIN
         * (the poller is level-triggered: more data wakes it again). */
        if ((size_t)n < sizeof(buf))
            return;
    }
}

/* The poller's call for a ready socket (qmp_poll.h). */
static void qmp_on_poll(void *obj, uint32_t revents)
{
    struct qmp *q = obj;

    if (!q->polled || q->free_deferred)
        return; /* closed or freed earlier in the same batch */
    qmp_enter(q);
    qmp_read(q, q->fd, revents);
    qmp_leave(q);
}

static void qmp_timeout(struct qmp *q)
{
    char msg[128];

    if (q->state == QMP_GREETING || q->state == QMP_CONNECTING) {
        qmp_close(q, -ETIMEDOUT, "no QMP greeting within 3 s (socket held by another client, or not QEMU)");
        return;
    }
    if (q->pending && q->pending->deadline_ms <= now_ms() + 1) {
        snprintf(msg, sizeof(msg), "no reply to %s within %.1f s", q->pending->cmd, q->timeout_ms / 1000.0);
        qmp_close(q, -ETIMEDOUT, msg);
        return;
    }
    qmp_arm_timer(q);
}

static int qmp_on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
    struct qmp *q = userdata;

    q->timer_ms = 0;
    qmp_enter(q);
    qmp_timeout(q);
    qmp_leave(q);
    return 0;
}

int qmp_new(sd_event *ev, const char *path, const char *name, const struct qmp_ops *ops,
            void *userdata, struct qmp **out)
{
    struct qmp *q = calloc(1, sizeof(*q));
    int r = -ENOMEM;

    if (!q)
        return -ENOMEM;
    q->ev = sd_event_ref(ev);
    q->path = strdup(path);
    q->name = strdup(name);
    q->ops = ops;
    q->userdata = userdata;
    q->fd = -1;
    q->timeout_ms = QMP_COMMAND_TIMEOUT_MS;
    q->pending_tail = &q->pending;
    q->reader = qmp_reader_new();
    if (!q->path || !q->name || !q->reader || (r = qmp_poll_get(ev, qmp_on_poll, &q->poller)) < 0) {
        qmp_destroy(q);
        return r;
    }
    r = sd_event_add_time(ev, &q->timer, CLOCK_MONOTONIC, UINT64_MAX, 10 * 1000, qmp_on_timer, q);
    if (r < 0) {
        qmp_free(q);
        return r;
    }
    sd_event_source_set_enabled(q->timer, SD_EVENT_OFF);
    *out = q;
    return 0;
}

static void qmp_destroy(struct qmp *q)
{
    qmp_poll_put(q->poller);
    sd_event_source_disable_unref(q->timer);
    qmp_reader_free(q->reader);
    sd_event_unref(q->ev);
    free(q->out);
    free(q->path);
    free(q->name);
    free(q);
}

void qmp_free(struct qmp *q)
{
    if (!q)
        return;
    q->ops = &(const struct qmp_ops){0};
    qmp_close(q, 0, NULL);
    if (q->dispatching) {
        q->free_deferred = true; /* called back from q: see qmp_leave */
        return;
    }
    q->free_deferred = true;
    qmp_destroy_soon(q);
}

int qmp_connect(struct qmp *q)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct ucred cred;
    socklen_t len = sizeof(cred);
    int r;

    if (q->state != QMP_CLOSED)
        return -EALREADY;
    if (strlen(q->path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, q->path);
    q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (q->fd < 0)
        return -errno;
    /* The last descriptors are kept for the host, the state file and the
     * control socket; this VM is tried again after its backoff. */
    if (!fd_headroom_ok(q->fd, UTIL_FD_RESERVE_VMS)) {
        close(q->fd);
        q->fd = -1;
        return -EMFILE;
    }
    /* A unix stream connect completes or fails at once; EAGAIN means the
     * listener's backlog is full, which we treat as a failed attempt. */
    if (connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        r = -errno;
        close(q->fd);
        q->fd = -1;
        return r;
    }
    /* No credentials: nobody (uid -1), refused by trust_ok(). */
    q->uid = (uid_t)-1;
    q->gid = (gid_t)-1;
    if (getsockopt(q->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
        q->pid = cred.pid;
        q->uid = cred.uid;
        q->gid = cred.gid;
    }
    qmp_reader_reset(q->reader);
    r = qmp_poll_add(q->poller, q->fd, EPOLLIN, q);
    q->polled = r == 0;
    q->io_events = EPOLLIN;
    if (r < 0) {
        close(q->fd);
        q->fd = -1;
        return r;
    }
    q->state = QMP_GREETING;
    qmp_set_timer(q, now_ms() + QMP_GREETING_TIMEOUT_MS);
    return 0;
}

void qmp_set_command_timeout(struct qmp *q, unsigned ms)
{
    q->timeout_ms = ms;
}

bool qmp_is_ready(const struct qmp *q)
{
    return q->state == QMP_READY;
}

pid_t qmp_peer_pid(const struct qmp *q)
{
    return q->pid;
}

void qmp_peer_ids(const struct qmp *q, uid_t *uid, gid_t *gid)
{
    *uid = q->uid;
    *gid = q->gid;
}
