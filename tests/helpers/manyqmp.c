/* manyqmp: many well-behaved QMP peers in one process, for tests of what
 * happens at scale without booting guests. Listens on DIR/PREFIX1 ..
 * DIR/PREFIXN and answers as a QEMU with a virtio-balloon would: greeting,
 * qmp_capabilities, qom-list (a balloon0), query-memory-size-summary,
 * query-status, query-balloon, balloon (actual follows at once), qom-get
 * and qom-set. Guest stats are refused (no driver stats), so balloond holds
 * the targets. VM i has 256 MiB * (1 + i % 8) of RAM, its balloon at that
 * size, so that sorting by size has something to sort.
 * Usage: manyqmp DIR PREFIX N. Prints "ready" once every socket listens;
 * ends on SIGTERM/SIGINT and removes its sockets. */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MIB (1024ULL * 1024)
#define LINE_MAX_BYTES 65536

struct peer {
    int fd;          /* listener (i < n) or client */
    int vm;          /* index of the VM it serves */
    char *buf;       /* client: the unfinished line */
    size_t len;
};

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static uint64_t *actual_bytes;

static uint64_t size_of_vm(int vm)
{
    return 256 * MIB * (uint64_t)(1 + vm % 8);
}

static void put(int fd, json_object *o)
{
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    size_t len = strlen(s);

    /* Replies are small; a client that does not read them is a test bug. */
    if (write(fd, s, len) != (ssize_t)len || write(fd, "\r\n", 2) != 2)
        perror("manyqmp: write");
}

/* The reply to one command, {"return": ...} or {"error": ...}. */
static json_object *answer(int vm, const char *cmd, json_object *args)
{
    json_object *r = json_object_new_object(), *v;

    if (strcmp(cmd, "qom-list") == 0) {
        json_object *list = json_object_new_array(), *it = json_object_new_object();
        const char *path = json_object_object_get_ex(args, "path", &v) ? json_object_get_string(v) : "";
        if (strcmp(path, "/machine/peripheral") == 0) {
            json_object_object_add(it, "name", json_object_new_string("balloon0"));
            json_object_object_add(it, "type", json_object_new_string("child<virtio-balloon-pci>"));
            json_object_array_add(list, it);
        } else {
            json_object_put(it);
        }
        json_object_object_add(r, "return", list);
    } else if (strcmp(cmd, "query-memory-size-summary") == 0) {
        json_object *s = json_object_new_object();
        json_object_object_add(s, "base-memory", json_object_new_uint64(size_of_vm(vm)));
        json_object_object_add(s, "plugged-memory", json_object_new_uint64(0));
        json_object_object_add(r, "return", s);
    } else if (strcmp(cmd, "query-status") == 0) {
        json_object *s = json_object_new_object();
        json_object_object_add(s, "status", json_object_new_string("running"));
        json_object_object_add(s, "running", json_object_new_boolean(1));
        json_object_object_add(r, "return", s);
    } else if (strcmp(cmd, "query-balloon") == 0) {
        json_object *s = json_object_new_object();
        json_object_object_add(s, "actual", json_object_new_uint64(actual_bytes[vm]));
        json_object_object_add(r, "return", s);
    } else if (strcmp(cmd, "balloon") == 0) {
        if (json_object_object_get_ex(args, "value", &v))
            actual_bytes[vm] = json_object_get_uint64(v);
        json_object_object_add(r, "return", json_object_new_object());
    } else if (strcmp(cmd, "qom-get") == 0 &&
               json_object_object_get_ex(args, "property", &v) &&
               strcmp(json_object_get_string(v), "deflate-on-oom") == 0) {
        json_object_object_add(r, "return", json_object_new_boolean(0));
    } else if (strcmp(cmd, "qom-get") == 0) { /* guest-stats: no driver stats */
        json_object *e = json_object_new_object();
        json_object_object_add(e, "class", json_object_new_string("GenericError"));
        json_object_object_add(e, "desc", json_object_new_string("guest hasn't updated any stats yet"));
        json_object_object_add(r, "error", e);
    } else { /* qmp_capabilities, qom-set */
        json_object_object_add(r, "return", json_object_new_object());
    }
    return r;
}

static void serve_line(struct peer *p, const char *line)
{
    json_object *req = json_tokener_parse(line), *cmd, *args = NULL, *id, *reply;

    if (!req || !json_object_object_get_ex(req, "execute", &cmd)) {
        json_object_put(req);
        return;
    }
    json_object_object_get_ex(req, "arguments", &args);
    reply = answer(p->vm, json_object_get_string(cmd), args);
    if (json_object_object_get_ex(req, "id", &id))
        json_object_object_add(reply, "id", json_object_get(id));
    put(p->fd, reply);
    json_object_put(reply);
    json_object_put(req);
}

/* Reads what a client sent; false when it left. */
static bool serve_client(struct peer *p)
{
    char chunk[4096], *nl;
    ssize_t n = read(p->fd, chunk, sizeof(chunk));

    if (n <= 0)
        return n < 0 && errno == EINTR;
    if (p->len + (size_t)n > LINE_MAX_BYTES)
        return false;
    char *b = realloc(p->buf, p->len + (size_t)n + 1);
    if (!b)
        return false;
    p->buf = b;
    memcpy(p->buf + p->len, chunk, (size_t)n);
    p->len += (size_t)n;
    p->buf[p->len] = '\0';
    while ((nl = strchr(p->buf, '\n'))) {
        *nl = '\0';
        serve_line(p, p->buf);
        p->len -= (size_t)(nl + 1 - p->buf);
        memmove(p->buf, nl + 1, p->len + 1);
    }
    return true;
}

int main(int argc, char **argv)
{
    static const char greeting[] = "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 8, \"minor\": 0, "
                                   "\"micro\": 0}, \"package\": \"\"}, \"capabilities\": []}}\r\n";
    struct sigaction act = {.sa_handler = on_signal};
    struct peer *peers;
    struct pollfd *pfds;
    int n, cap, count;

    if (argc != 4 || (n = atoi(argv[3])) <= 0) {
        fprintf(stderr, "usage: manyqmp DIR PREFIX N\n");
        return 2;
    }
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);
    signal(SIGPIPE, SIG_IGN);
    cap = 2 * n; /* a listener and one client per VM */
    peers = calloc((size_t)cap, sizeof(*peers));
    pfds = calloc((size_t)cap, sizeof(*pfds));
    actual_bytes = calloc((size_t)n, sizeof(*actual_bytes));
    if (!peers || !pfds || !actual_bytes)
        return 1;
    for (int i = 0; i < n; i++) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s%d", argv[1], argv[2], i + 1) >=
            (int)sizeof(sa.sun_path)) {
            fprintf(stderr, "manyqmp: socket path too long\n");
            return 2;
        }
        unlink(sa.sun_path);
        peers[i] = (struct peer){.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), .vm = i};
        if (peers[i].fd < 0 || bind(peers[i].fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            listen(peers[i].fd, 4) < 0) {
            perror("manyqmp: listen");
            return 1;
        }
        actual_bytes[i] = size_of_vm(i);
    }
    count = n;
    printf("ready\n");
    fflush(stdout);
    while (!stop) {
        for (int i = 0; i < count; i++)
            pfds[i] = (struct pollfd){.fd = peers[i].fd, .events = POLLIN};
        if (poll(pfds, (nfds_t)count, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("manyqmp: poll");
            break;
        }
        for (int i = 0, live = count; i < live; i++) {
            if (!(pfds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (i < n) {
                int fd = accept(peers[i].fd, NULL, NULL);
                if (fd < 0)
                    continue;
                if (count == cap || write(fd, greeting, strlen(greeting)) < 0) {
                    close(fd);
                    continue;
                }
                peers[count++] = (struct peer){.fd = fd, .vm = i};
            } else if (!serve_client(&peers[i])) {
                close(peers[i].fd);
                free(peers[i].buf);
                peers[i] = (struct peer){.fd = -1, .vm = -1}; /* poll ignores it; compacted below */
            }
        }
        int k = n;
        for (int i = n; i < count; i++)
            if (peers[i].fd >= 0)
                peers[k++] = peers[i];
        count = k;
    }
    for (int i = 0; i < count; i++) {
        if (i < n) {
            struct sockaddr_un sa;
            snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s%d", argv[1], argv[2], i + 1);
            unlink(sa.sun_path);
        }
        close(peers[i].fd);
        free(peers[i].buf);
    }
    free(peers);
    free(pfds);
    free(actual_bytes);
    return 0;
}
