/* hostileqmp: a QMP peer that follows the protocol but reports hostile
 * values, for what a real QEMU cannot produce (issue 9). A 1 GiB VM
 * with a balloon; to every client, per MODE:
 *   zero      actual 0 (query-balloon, BALLOON_CHANGE, guest stats)
 *   umax      actual 18446744073709551615 (QEMU's "unknown")
 *   huge      actual 18446744073709551614
 *   negative  actual -4096, stats negative
 *   strings   every number as a string ("536870912")
 *   wrongids  every reply first with a wrong id, a string id, no id
 *   flood     10,000 BALLOON_CHANGE a second, actual 0 / 2^64-2 / 1 / 1G
 *   resets    1,000 RESET a second
 * Every balloon command received is appended to LOG as its raw value,
 * one a line. Usage: hostileqmp MODE SOCKET LOG. Ends on SIGTERM/SIGINT
 * and removes SOCKET. */
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "peer.h"

static const char *mode;
static FILE *log_file;
static unsigned long long tick;


static int is(const char *m)
{
    return strcmp(mode, m) == 0;
}

static void out(int fd, const char *s)
{
    size_t len = strlen(s);

    while (len > 0 && !stop) {
        ssize_t n = write(fd, s, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

/* The value this mode puts where the balloon's actual size goes. */
static const char *actual(void)
{
    if (is("zero"))
        return "0";
    if (is("umax"))
        return "18446744073709551615";
    if (is("huge"))
        return "18446744073709551614";
    if (is("negative"))
        return "-4096";
    if (is("strings"))
        return "\"536870912\"";
    return "536870912";
}

static void reply_body(const char *cmd, const char *prop, char *buf, size_t size)
{
    if (strcmp(cmd, "qom-list") == 0)
        snprintf(buf, size, "[{\"name\":\"type\",\"type\":\"string\"},"
                            "{\"name\":\"balloon0\",\"type\":\"child<virtio-balloon-pci>\"}]");
    else if (strcmp(cmd, "query-memory-size-summary") == 0)
        snprintf(buf, size, "{\"base-memory\":1073741824,\"plugged-memory\":0}");
    else if (strcmp(cmd, "query-status") == 0)
        snprintf(buf, size, "{\"status\":\"running\",\"running\":true}");
    else if (strcmp(cmd, "query-balloon") == 0)
        snprintf(buf, size, "{\"actual\":%s}", actual());
    else if (strcmp(cmd, "qom-get") == 0 && prop && strcmp(prop, "guest-stats") == 0)
        snprintf(buf, size,
                 "{\"stats\":{\"stat-total-memory\":%s,\"stat-available-memory\":%s,"
                 "\"stat-free-memory\":%s,\"stat-swap-in\":0,\"stat-swap-out\":0,"
                 "\"stat-major-faults\":0,\"stat-minor-faults\":%llu,\"stat-disk-caches\":0},"
                 "\"last-update\":%llu}",
                 actual(), is("strings") ? "\"400000000\"" : is("negative") ? "-1" : "100000000",
                 actual(), tick, 1764000000ULL + tick);
    else if (strcmp(cmd, "qom-get") == 0)
        snprintf(buf, size, "%s", is("strings") ? "\"false\"" : "false");
    else
        snprintf(buf, size, "{}");
}

static void answer(int fd, const char *line)
{
    json_object *o = json_tokener_parse(line), *cmd, *id, *args = NULL, *v;
    const char *prop = NULL;
    char body[512], buf[2048];

    if (!o || !json_object_object_get_ex(o, "execute", &cmd) || !json_object_object_get_ex(o, "id", &id)) {
        json_object_put(o);
        return;
    }
    json_object_object_get_ex(o, "arguments", &args);
    if (json_object_object_get_ex(args, "property", &v))
        prop = json_object_get_string(v);
    if (strcmp(json_object_get_string(cmd), "balloon") == 0 && json_object_object_get_ex(args, "value", &v)) {
        fprintf(log_file, "%s\n", json_object_to_json_string(v));
        fflush(log_file);
    }
    reply_body(json_object_get_string(cmd), prop, body, sizeof(body));
    if (is("wrongids")) {
        snprintf(buf, sizeof(buf),
                 "{\"return\":%s,\"id\":%llu}\r\n{\"return\":%s,\"id\":\"%s\"}\r\n{\"return\":%s}\r\n",
                 body, (unsigned long long)json_object_get_uint64(id) + 1000000, body, json_object_get_string(id), body);
        out(fd, buf);
    }
    snprintf(buf, sizeof(buf), "{\"return\":%s,\"id\":%s}\r\n", body, json_object_get_string(id));
    out(fd, buf);
    json_object_put(o);
}

/* One millisecond's worth of events for the flooding modes. */
static void flood(int fd)
{
    static const char *const values[] = {"0", "18446744073709551614", "1", "1073741824"};
    char buf[128];

    if (is("flood")) {
        for (int i = 0; i < 10; i++) {
            snprintf(buf, sizeof(buf), "{\"event\":\"BALLOON_CHANGE\",\"data\":{\"actual\":%s}}\r\n",
                     values[(tick + (unsigned)i) % 4]);
            out(fd, buf);
        }
    } else if (is("resets")) {
        out(fd, "{\"event\":\"RESET\",\"data\":{\"guest\":true,\"reason\":\"guest-reset\"}}\r\n");
    }
}

static void serve(int fd)
{
    static char in[1 << 16];
    size_t len = 0;
    int flooding = is("flood") || is("resets");

    out(fd, "{\"QMP\":{\"version\":{\"qemu\":{\"major\":8,\"minor\":2,\"micro\":0}},\"capabilities\":[]}}\r\n");
    while (!stop) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, flooding ? 1 : 100);
        char *nl;

        tick++;
        if (r < 0 && errno != EINTR)
            return;
        if (r > 0) {
            ssize_t n = read(fd, in + len, sizeof(in) - 1 - len);
            if (n <= 0)
                return;
            len += (size_t)n;
            while ((nl = memchr(in, '\n', len))) {
                *nl = '\0';
                answer(fd, in);
                len -= (size_t)(nl + 1 - in);
                memmove(in, nl + 1, len);
            }
            if (len == sizeof(in) - 1)
                len = 0;
        }
        if (flooding)
            flood(fd);
    }
}

int main(int argc, char **argv)
{
    int r;

    if (argc != 4 || !peer_path_ok(argv[2])) {
        fprintf(stderr, "usage: hostileqmp zero|umax|huge|negative|strings|wrongids|flood|resets SOCKET LOG\n");
        return 2;
    }
    mode = argv[1];
    log_file = fopen(argv[3], "a");
    if (!log_file) {
        perror(argv[3]);
        return 1;
    }
    r = peer_serve(argv[2], "hostileqmp", serve);
    fclose(log_file);
    return r;
}
