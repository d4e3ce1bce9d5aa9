/* ctl.c: control socket (see ctl.h). */
#include "ctl.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

struct ctl_server {
    sd_event *ev;
    char *path;
    int fd;
    sd_event_source *io;
    ctl_handler_fn fn;
    void *userdata;
    struct ctl_conn *conns;
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

static void conn_free(struct ctl_conn *c)
{
    struct ctl_conn **pp;

    for (pp = &c->srv->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
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

    json_object_object_add(o, "version", json_object_new_int(CTL_PROTOCOL_VERSION));
    json_object_object_add(o, "ok", json_object_new_boolean(0));
    json_object_object_add(o, "error", json_object_new_string(msg));
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
    if (!json_object_object_get_ex(req, "version", &v) ||
        json_object_get_int(v) != CTL_PROTOCOL_VERSION) {
        snprintf(msg, sizeof(msg), "protocol version %d not supported (balloond speaks %d)",
                 v ? json_object_get_int(v) : 0, CTL_PROTOCOL_VERSION);
        json_object_put(req);
        return reply_error(msg);
    }
    if (!json_object_object_get_ex(req, "command", &v) || !json_object_is_type(v, json_type_string)) {
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
    json_object_object_add(o, "version", json_object_new_int(CTL_PROTOCOL_VERSION));
    json_object_object_add(o, "ok", json_object_new_boolean(1));
    json_object_object_add(o, "data", data);
    s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    json_object_put(req);
    return s;
}

static int conn_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    struct ctl_conn *c = userdata;

    if (!c->out) {
        char *nl;
        ssize_t n = recv(fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        if (n <= 0) {
            conn_free(c);
            return 0;
        }
        c->in_len += (size_t)n;
        c->in[c->in_len] = '\0';
        nl = strchr(c->in, '\n');
        if (!nl && c->in_len < sizeof(c->in) - 1)
            return 0;
        if (nl)
            *nl = '\0';
        c->out = nl ? handle_request(c->srv, c->in) : reply_error("request longer than 64 KiB");
        if (!c->out) {
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

static int srv_on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    struct ctl_server *srv = userdata;
    struct ucred cred;
    socklen_t len = sizeof(cred);
    struct ctl_conn *c;
    int cfd;

    cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0)
        return 0;
    if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
        log_warn("control socket: refused a client that is not root (uid %d)", (int)cred.uid);
        close(cfd);
        return 0;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        close(cfd);
        return 0;
    }
    c->srv = srv;
    c->fd = cfd;
    c->next = srv->conns;
    srv->conns = c;
    if (sd_event_add_io(srv->ev, &c->io, cfd, EPOLLIN, conn_on_io, c) < 0 ||
        sd_event_add_time_relative(srv->ev, &c->timer, CLOCK_MONOTONIC, CTL_TIMEOUT_MS * 1000ULL,
                                   0, conn_on_timeout, c) < 0)
        conn_free(c);
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
    srv->ev = sd_event_ref(ev);
    srv->fn = fn;
    srv->userdata = userdata;
    srv->path = strdup(path);
    srv->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (srv->fd < 0 || !srv->path) {
        r = srv->fd < 0 ? -errno : -ENOMEM;
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
    if (r < 0)
        goto fail;
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
    json_object_object_add(req, "version", json_object_new_int(CTL_PROTOCOL_VERSION));
    json_object_object_add(req, "command", json_object_new_string(command));
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
    for (;;) {
        ssize_t n;
        r = wait_fd(fd, POLLIN);
        if (r < 0) {
            client_error(error, r, "no reply from %s: %s", path, strerror(-r));
            goto out;
        }
        n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (n < 0) {
            r = client_error(error, -errno, "cannot read from %s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0 || len + (size_t)n >= sizeof(buf) - 1) {
            len += (size_t)n;
            break;
        }
        len += (size_t)n;
    }
    buf[len] = '\0';
    reply = json_tokener_parse(buf);
    if (!reply || !json_object_object_get_ex(reply, "ok", &v)) {
        r = client_error(error, -EPROTO, "%s: the daemon's reply is not understood", path);
        goto out;
    }
    if (!json_object_get_boolean(v)) {
        r = -EINVAL;
        if (json_object_object_get_ex(reply, "error", &v))
            *error = strdup(json_object_get_string(v));
        goto out;
    }
    if (!json_object_object_get_ex(reply, "data", &v)) {
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
