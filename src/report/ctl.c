/* ctl.c: control socket (see ctl.h). */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "protocol.h"
#include "util.h"

/* balloonctl holds one connection for a few ms; 1100 held connections
 * ran the daemon out of descriptors (EMFILE on every accept, 5,400 a
 * second, and host sampling failed). Past this many, new clients wait in
 * the listen backlog until one leaves or times out (CTL_TIMEOUT_MS). */
#define CTL_CONNS_MAX 32
/* After EMFILE/ENFILE the listener rests this long instead of spinning. */
#define CTL_ACCEPT_BACKOFF_MS 200

struct ctl_server {
    sd_event *ev;
    char *path;
    int fd;
    int reserve_fd;           /* /dev/null, given up to accept-and-close at EMFILE */
    sd_event_source *io, *backoff;
    ctl_handler_fn fn;
    void *userdata;
    struct ctl_conn *conns;
    unsigned n_conns;
    bool resting;             /* the backoff timer runs */
    struct ratelimit refused_rl;
};

struct ctl_conn {
    struct ctl_conn *next;
    struct ctl_server *srv;
    int fd;
    sd_event_source *io, *timer;
    char in[CTL_REQUEST_MAX];
    size_t in_len;
    char *out;
    size_t out_len, out_off;
};

/* The listener accepts while there is room and it is not resting. */
static void srv_update(struct ctl_server *srv)
{
    sd_event_source_set_enabled(srv->io, srv->n_conns < CTL_CONNS_MAX && !srv->resting
                                             ? SD_EVENT_ON : SD_EVENT_OFF);
}

static void conn_free(struct ctl_conn *c)
{
    struct ctl_conn **pp;

    for (pp = &c->srv->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    c->srv->n_conns--;
    srv_update(c->srv);
    sd_event_source_disable_unref(c->io);
    sd_event_source_disable_unref(c->timer);
    close(c->fd);
    free(c->out);
    free(c);
}

static char *reply_error(const char *msg)
{
    json_object *o = json_object_new_object();
    char *s;

    json_object_object_add(o, PROTO_KEY_VERSION, json_object_new_int(PROTO_VERSION));
    json_object_object_add(o, PROTO_KEY_OK, json_object_new_boolean(0));
    json_object_object_add(o, PROTO_KEY_ERROR, json_object_new_string(msg));
    s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

static char *handle_request(struct ctl_server *srv, const char *line)
{
    json_object *req = json_tokener_parse(line), *v, *data, *o;
    char *error = NULL, *s;
    char msg[128];

    if (!req || !json_object_is_type(req, json_type_object)) {
        json_object_put(req);
        return reply_error("request is not a JSON object");
    }
    if (!json_object_object_get_ex(req, PROTO_KEY_VERSION, &v) ||
        json_object_get_int(v) != PROTO_VERSION) {
        snprintf(msg, sizeof(msg), "protocol version %d not supported (balloond speaks %d)",
                 v ? json_object_get_int(v) : 0, PROTO_VERSION);
        json_object_put(req);
        return reply_error(msg);
    }
    if (!json_object_object_get_ex(req, PROTO_KEY_COMMAND, &v) || !json_object_is_type(v, json_type_string)) {
        json_object_put(req);
        return reply_error("request has no \"command\"");
    }
    data = srv->fn(json_object_get_string(v), req, srv->userdata, &error);
    if (!data) {
        s = reply_error(error ? error : "failed");
        free(error);
        json_object_put(req);
        return s;
    }
    o = json_object_new_object();
    json_object_object_add(o, PROTO_KEY_VERSION, json_object_new_int(PROTO_VERSION));
    json_object_object_add(o, PROTO_KEY_OK, json_object_new_boolean(1));
    json_object_object_add(o, PROTO_KEY_DATA, data);
    s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    json_object_put(req);
    return s;
}

/* Reads; when a whole line is in, the reply replaces it. Returns 0 to
 * wait for more, 1 when c->out is set, -1 when the client is gone. */
static int conn_read(struct ctl_conn *c)
{
    ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, MSG_DONTWAIT);
    char *nl;

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0)
        return -1;
    c->in_len += (size_t)n;
    c->in[c->in_len] = '\0';
    nl = memchr(c->in, '\n', c->in_len);
    if (!nl && c->in_len < sizeof(c->in) - 1)
        return 0;
    if (!nl)
        c->out = reply_error("request longer than 64 KiB");
    else if (memchr(c->in, '\0', (size_t)(nl - c->in)))
        c->out = reply_error("request contains a NUL byte");
    else {
        *nl = '\0';
        c->out = handle_request(c->srv, c->in);
    }
    return c->out ? 1 : -1;
}

static int conn_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    struct ctl_conn *c = userdata;

    if (!c->out) {
        int r = conn_read(c);
        if (r <= 0) {
            if (r < 0)
                conn_free(c);
            return 0;
        }
        c->out_len = strlen(c->out);
        c->out[c->out_len++] = '\n'; /* replaces the NUL: out is sent by length */
        sd_event_source_set_io_events(c->io, EPOLLOUT);
    }
    while (c->out_off < c->out_len) {
        ssize_t n = send(fd, c->out + c->out_off, c->out_len - c->out_off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        if (n < 0)
            break;
        c->out_off += (size_t)n;
    }
    conn_free(c);
    return 0;
}

static int conn_on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
    conn_free(userdata);
    return 0;
}

static int srv_on_rested(sd_event_source *s, uint64_t usec, void *userdata)
{
    struct ctl_server *srv = userdata;

    srv->resting = false;
    srv_update(srv);
    return 0;
}

/* Out of descriptors: take the waiting client off the backlog with the
 * reserve descriptor (so it is told, by a close, rather than left
 * hanging) and rest the listener a while. */
static void srv_rest(struct ctl_server *srv, const char *why)
{
    if (srv->reserve_fd >= 0) {
        close(srv->reserve_fd);
        int fd = accept4(srv->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            close(fd);
        srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    log_limited(&srv->refused_rl, LOG_WARNING, "control socket: %s; refusing clients for %d ms",
                why, CTL_ACCEPT_BACKOFF_MS);
    srv->resting = true;
    sd_event_source_set_time_relative(srv->backoff, CTL_ACCEPT_BACKOFF_MS * 1000ULL);
    sd_event_source_set_enabled(srv->backoff, SD_EVENT_ONESHOT);
    srv_update(srv);
}

static void srv_add_conn(struct ctl_server *srv, int cfd)
{
    struct ctl_conn *c = calloc(1, sizeof(*c));

    if (!c) {
        close(cfd);
        return;
    }
    c->srv = srv;
    c->fd = cfd;
    c->next = srv->conns;
    srv->conns = c;
    srv->n_conns++;
    srv_update(srv);
    if (sd_event_add_io(srv->ev, &c->io, cfd, EPOLLIN, conn_on_io, c) < 0 ||
        sd_event_add_time_relative(srv->ev, &c->timer, CLOCK_MONOTONIC, CTL_TIMEOUT_MS * 1000ULL,
                                   0, conn_on_timeout, c) < 0)
        conn_free(c);
}

static int srv_on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    struct ctl_server *srv = userdata;
    struct ucred cred = {.uid = (uid_t)-1};
    socklen_t len = sizeof(cred);
    int cfd;

    cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            srv_rest(srv, strerror(errno));
        return 0;
    }
    if (!fd_headroom_ok(cfd, UTIL_FD_RESERVE_CLIENTS)) {
        close(cfd);
        srv_rest(srv, "few file descriptors left");
        return 0;
    }
    if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
        log_limited(&srv->refused_rl, LOG_WARNING,
                    "control socket: refused a client that is not root (uid %d)", (int)cred.uid);
        close(cfd);
        return 0;
    }
    srv_add_conn(srv, cfd);
    return 0;
}

int ctl_server_new(sd_event *ev, const char *path, ctl_handler_fn fn, void *userdata,
                   struct ctl_server **out)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct ctl_server *srv;
    mode_t old;
    int r;

    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    srv = calloc(1, sizeof(*srv));
    if (!srv)
        return -ENOMEM;
    srv->fd = srv->reserve_fd = -1;
    srv->ev = sd_event_ref(ev);
    srv->fn = fn;
    srv->userdata = userdata;
    srv->refused_rl = (struct ratelimit)RATELIMIT_INIT;
    srv->path = strdup(path);
    srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    srv->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (srv->fd < 0 || !srv->path || srv->reserve_fd < 0) {
        r = srv->fd < 0 || srv->reserve_fd < 0 ? -errno : -ENOMEM;
        goto fail;
    }
    unlink(path);
    old = umask(0077);
    r = bind(srv->fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (r < 0 || listen(srv->fd, 16) < 0) {
        r = -errno;
        goto fail;
    }
    r = sd_event_add_io(ev, &srv->io, srv->fd, EPOLLIN, srv_on_accept, srv);
    if (r >= 0)
        r = sd_event_add_time(ev, &srv->backoff, CLOCK_MONOTONIC, UINT64_MAX, 10 * 1000,
                              srv_on_rested, srv);
    if (r < 0)
        goto fail;
    sd_event_source_set_enabled(srv->backoff, SD_EVENT_OFF);
    *out = srv;
    return 0;
fail:
    ctl_server_free(srv);
    return r;
}

void ctl_server_free(struct ctl_server *srv)
{
    if (!srv)
        return;
    while (srv->conns)
        conn_free(srv->conns);
    sd_event_source_disable_unref(srv->io);
    sd_event_source_disable_unref(srv->backoff);
    if (srv->reserve_fd >= 0)
        close(srv->reserve_fd);
    if (srv->fd >= 0) {
        close(srv->fd);
        if (srv->path)
            unlink(srv->path);
    }
    sd_event_unref(srv->ev);
    free(srv->path);
    free(srv);
}

/* ---- client ------------------------------------------------------------- */

static int client_error(char **error, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int client_error(char **error, int r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(error, fmt, ap) < 0)
        *error = NULL;
    va_end(ap);
    return r;
}

static int wait_fd(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    int r = poll(&p, 1, CTL_TIMEOUT_MS);

    return r < 0 ? -errno : r == 0 ? -ETIMEDOUT : 0;
}

/* Reads until the daemon closes or cap - 1 bytes; buf is NUL-terminated
 * by the caller. 0 or -errno (*error set). */
static int ctl_read_reply(int fd, const char *path, char *buf, size_t cap, size_t *len_out, char **error)
{
    size_t len = 0;

    for (;;) {
        ssize_t n;
        int r = wait_fd(fd, POLLIN);
        if (r < 0)
            return client_error(error, r, "no reply from %s: %s", path, strerror(-r));
        n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n < 0)
            return client_error(error, -errno, "cannot read from %s: %s", path, strerror(errno));
        len += (size_t)n;
        if (n == 0 || len >= cap - 1)
            break;
    }
    *len_out = len;
    return 0;
}

int ctl_call(const char *path, const char *command, json_object *args, json_object **data,
             char **error)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    json_object *req = args ? args : json_object_new_object(), *reply = NULL, *v;
    static char buf[4 << 20];
    size_t len = 0;
    const char *s;
    int fd, r;

    *error = NULL;
    json_object_object_add(req, PROTO_KEY_VERSION, json_object_new_int(PROTO_VERSION));
    json_object_object_add(req, PROTO_KEY_COMMAND, json_object_new_string(command));
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        r = client_error(error, -errno, "cannot reach balloond at %s: %s (is it running?)", path,
                         strerror(errno));
        goto out;
    }
    s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
    if (send(fd, s, strlen(s), MSG_NOSIGNAL) < 0 || send(fd, "\n", 1, MSG_NOSIGNAL) < 0) {
        r = client_error(error, -errno, "cannot send to %s: %s", path, strerror(errno));
        goto out;
    }
    r = ctl_read_reply(fd, path, buf, sizeof(buf), &len, error);
    if (r < 0)
        goto out;
    buf[len] = '\0';
    reply = json_tokener_parse(buf);
    if (!reply || !json_object_object_get_ex(reply, PROTO_KEY_OK, &v)) {
        r = client_error(error, -EPROTO, "%s: the daemon's reply is not understood", path);
        goto out;
    }
    if (!json_object_get_boolean(v)) {
        r = -EINVAL;
        if (json_object_object_get_ex(reply, PROTO_KEY_ERROR, &v))
            *error = strdup(json_object_get_string(v));
        goto out;
    }
    if (!json_object_object_get_ex(reply, PROTO_KEY_DATA, &v)) {
        r = client_error(error, -EPROTO, "%s: the daemon's reply has no data", path);
        goto out;
    }
    *data = json_object_get(v);
    r = 0;
out:
    if (fd >= 0)
        close(fd);
    json_object_put(reply);
    json_object_put(req);
    return r;
}
