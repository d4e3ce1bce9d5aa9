/* loadqmp_qmp.c: the load server's QMP: what a QEMU answers to each
 * command balloond sends (see loadqmp.c), and the BALLOON_CHANGE event. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loadqmp.h"

#define REPLY_MAX 2048

void conn_out(struct conn *c, const char *text, size_t len)
{
    if (c->wlen + len > c->wcap) {
        size_t cap = c->wcap ? c->wcap : 4096;
        char *p;
        while (cap < c->wlen + len)
            cap *= 2;
        p = realloc(c->wbuf, cap);
        if (!p)
            return;
        c->wbuf = p;
        c->wcap = cap;
    }
    memcpy(c->wbuf + c->wlen, text, len);
    c->wlen += len;
}

static void reply(struct conn *c, const char *id, const char *ret)
{
    char buf[REPLY_MAX + 128];
    int n = snprintf(buf, sizeof(buf), "{\"return\": %s, \"id\": %s}\r\n", ret, id);

    conn_out(c, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void reply_error(struct conn *c, const char *id, const char *cls, const char *desc)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "{\"error\": {\"class\": \"%s\", \"desc\": \"%s\"}, \"id\": %s}\r\n", cls,
                     desc, id);

    conn_out(c, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

void qmp_balloon_change(struct server *s, struct slot *v)
{
    char buf[256];
    struct timespec ts;
    int n;

    clock_gettime(CLOCK_REALTIME, &ts);
    n = snprintf(buf, sizeof(buf),
                 "{\"timestamp\": {\"seconds\": %lld, \"microseconds\": %ld}, \"event\": "
                 "\"BALLOON_CHANGE\", \"data\": {\"actual\": %llu}}\r\n",
                 (long long)ts.tv_sec, ts.tv_nsec / 1000, (unsigned long long)v->g.actual_bytes);
    conn_out(&v->c, buf, (size_t)n);
    meas_event(s->meas);
}

/* ---- commands ---------------------------------------------------------- */

static const char *arg_str(json_object *args, const char *key)
{
    json_object *v;

    return json_object_object_get_ex(args, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static void do_qom_get(struct slot *v, const char *id, const char *prop)
{
    char buf[REPLY_MAX];

    if (prop && strcmp(prop, "guest-stats") == 0) {
        guest_stats_json(&v->g, buf, sizeof(buf));
        reply(&v->c, id, buf);
    } else if (prop && strcmp(prop, "deflate-on-oom") == 0) {
        reply(&v->c, id, "false");
    } else if (prop && strcmp(prop, "guest-stats-polling-interval") == 0) {
        reply(&v->c, id, v->g.stats_on ? "1" : "0");
    } else {
        reply_error(&v->c, id, "GenericError", "Property not found");
    }
}

static void do_qom_list(struct slot *v, const char *id, const char *path)
{
    if (path && strcmp(path, "/machine/peripheral") == 0)
        reply(&v->c, id, "[{\"name\": \"type\", \"type\": \"string\"}, "
                         "{\"name\": \"balloon0\", \"type\": \"child<virtio-balloon-pci>\"}]");
    else if (path && strcmp(path, "/machine/peripheral-anon") == 0)
        reply(&v->c, id, "[{\"name\": \"type\", \"type\": \"string\"}]");
    else
        reply_error(&v->c, id, "DeviceNotFound", "Device not found");
}

static void do_qom_set(struct slot *v, const char *id, json_object *args, uint64_t now)
{
    json_object *val;
    const char *prop = arg_str(args, "property");

    if (!prop || strcmp(prop, "guest-stats-polling-interval") != 0 ||
        !json_object_object_get_ex(args, "value", &val)) {
        reply_error(&v->c, id, "GenericError", "Property not found");
        return;
    }
    if (json_object_get_int64(val) > 0 && !v->g.stats_on) {
        v->g.stats_on = true;
        v->g.stats_next_ms = now + GUEST_STATS_MS;
    }
    reply(&v->c, id, "{}");
}

static void do_balloon(struct server *s, struct slot *v, const char *id, json_object *args, uint64_t now)
{
    json_object *val;
    uint64_t value;

    if (!json_object_object_get_ex(args, "value", &val) || (value = json_object_get_uint64(val)) == 0) {
        reply_error(&v->c, id, "GenericError", "Parameter 'value' expects a size");
        return;
    }
    if (value > v->g.size_bytes)
        value = v->g.size_bytes; /* QEMU caps the request at the RAM size */
    v->g.target_bytes = value & ~4095ULL; /* and asks for whole pages */
    meas_balloon(s->meas, &v->g, value, now);
    reply(&v->c, id, "{}");
}

static enum meas_cmd cmd_kind(const char *cmd)
{
    static const char *const names[CMD_N] = {"qmp_capabilities", "qom-list", "qom-set", "qom-get",
                                             "query-memory-size-summary", "query-status", "query-balloon",
                                             "balloon"};

    for (int k = 0; k < CMD_OTHER; k++)
        if (strcmp(cmd, names[k]) == 0)
            return (enum meas_cmd)k;
    return CMD_OTHER;
}

static void dispatch(struct server *s, struct slot *v, enum meas_cmd k, const char *id, json_object *args,
                     uint64_t now)
{
    char buf[256];

    switch (k) {
    case CMD_CAPS:
        v->c.caps = true;
        reply(&v->c, id, "{}");
        break;
    case CMD_QOM_LIST:
        do_qom_list(v, id, arg_str(args, "path"));
        break;
    case CMD_QOM_SET:
        do_qom_set(v, id, args, now);
        break;
    case CMD_QOM_GET:
        /* guest-stats is the sample balloond asks every VM for on every
         * tick (query-status and query-balloon may come less often) */
        if (arg_str(args, "property") && strcmp(arg_str(args, "property"), "guest-stats") == 0)
            meas_poll(s->meas, &v->g, now);
        do_qom_get(v, id, arg_str(args, "property"));
        break;
    case CMD_SIZE:
        snprintf(buf, sizeof(buf), "{\"base-memory\": %llu, \"plugged-memory\": 0}",
                 (unsigned long long)v->g.size_bytes);
        reply(&v->c, id, buf);
        break;
    case CMD_STATUS:
        reply(&v->c, id, "{\"status\": \"running\", \"singlestep\": false, \"running\": true}");
        break;
    case CMD_QUERY_BALLOON:
        snprintf(buf, sizeof(buf), "{\"actual\": %llu}", (unsigned long long)v->g.actual_bytes);
        reply(&v->c, id, buf);
        break;
    case CMD_BALLOON:
        do_balloon(s, v, id, args, now);
        break;
    default:
        reply_error(&v->c, id, "CommandNotFound", "The command is not found");
    }
}

void qmp_handle_line(struct server *s, struct slot *v, const char *line, uint64_t now)
{
    json_object *msg = json_tokener_parse(line), *cmd, *id, *args = NULL;
    const char *ids = "null";
    enum meas_cmd k;

    if (!msg || !json_object_object_get_ex(msg, "execute", &cmd) || !json_object_is_type(cmd, json_type_string)) {
        reply_error(&v->c, "null", "GenericError", "QMP input must be a command");
        json_object_put(msg);
        return;
    }
    if (json_object_object_get_ex(msg, "id", &id))
        ids = json_object_to_json_string_ext(id, JSON_C_TO_STRING_PLAIN);
    json_object_object_get_ex(msg, "arguments", &args);
    k = cmd_kind(json_object_get_string(cmd));
    meas_command(s->meas, k, now);
    if (!v->c.caps && k != CMD_CAPS)
        reply_error(&v->c, ids, "CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'");
    else
        dispatch(s, v, k, ids, args, now);
    json_object_put(msg);
}

