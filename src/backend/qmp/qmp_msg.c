/* qmp_msg.c: the pure part of the QMP client (see qmp.h): reading one
 * message's values, and splitting a byte stream into messages. No I/O. */
#include "qmp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int qmp_classify(json_object *obj, struct qmp_msg *out)
{
    struct qmp_msg m = {0};
    json_object *v;

    if (!json_object_is_type(obj, json_type_object))
        return -EBADMSG;
    m.id = qmp_u64(obj, "id");
    m.has_id = m.id != QMP_UNKNOWN;
    if (!m.has_id)
        m.id = 0;
    if (json_object_object_get_ex(obj, "QMP", &v)) {
        m.type = QMP_MSG_GREETING;
    } else if (json_object_object_get_ex(obj, "return", &v)) {
        m.type = QMP_MSG_RETURN;
        m.ret = v;
    } else if (json_object_object_get_ex(obj, "error", &v)) {
        m.type = QMP_MSG_ERROR;
        m.err_class = qmp_str(v, "class");
        m.err_desc = qmp_str(v, "desc");
        if (!m.err_class)
            return -EBADMSG;
        if (!m.err_desc)
            m.err_desc = "";
    } else if ((m.event = qmp_str(obj, "event"))) {
        m.type = QMP_MSG_EVENT;
        if (!json_object_object_get_ex(obj, "data", &m.data))
            m.data = NULL;
    } else {
        return -EBADMSG;
    }
    *out = m;
    return 0;
}

uint64_t qmp_u64(json_object *obj, const char *key)
{
    json_object *v;
    int64_t s;

    if (!obj || !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_int))
        return QMP_UNKNOWN;
    /* json-c keeps values above INT64_MAX as uint64; get_int64 saturates
     * them, so negatives are told apart from huge values this way. */
    s = json_object_get_int64(v);
    if (s < 0)
        return QMP_UNKNOWN;
    return json_object_get_uint64(v);
}

const char *qmp_str(json_object *obj, const char *key)
{
    json_object *v;

    if (!obj || !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

int qmp_bool(json_object *v, bool *out)
{
    if (!json_object_is_type(v, json_type_boolean))
        return -EBADMSG;
    *out = json_object_get_boolean(v);
    return 0;
}

int qmp_guest_stats_parse(json_object *ret, struct qmp_guest_stats *out)
{
    json_object *stats;
    uint64_t last;

    if (!ret || !json_object_object_get_ex(ret, "stats", &stats) ||
        !json_object_is_type(stats, json_type_object))
        return -EBADMSG;
    last = qmp_u64(ret, "last-update");
    *out = (struct qmp_guest_stats){
        .last_update_s = last == QMP_UNKNOWN ? 0 : last,
        .swap_in_bytes = qmp_u64(stats, "stat-swap-in"),
        .swap_out_bytes = qmp_u64(stats, "stat-swap-out"),
        .major_faults = qmp_u64(stats, "stat-major-faults"),
        .minor_faults = qmp_u64(stats, "stat-minor-faults"),
        .free_bytes = qmp_u64(stats, "stat-free-memory"),
        .total_bytes = qmp_u64(stats, "stat-total-memory"),
        .avail_bytes = qmp_u64(stats, "stat-available-memory"),
        .disk_caches_bytes = qmp_u64(stats, "stat-disk-caches"),
        .oom_kills = qmp_u64(stats, "stat-oom-kills"),
        .alloc_stalls = qmp_u64(stats, "stat-alloc-stalls"),
    };
    return 0;
}

struct qmp_reader {
    char *line;
    size_t len, cap;
    json_tokener *tok;
};

struct qmp_reader *qmp_reader_new(void)
{
    struct qmp_reader *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->tok = json_tokener_new_ex(QMP_DEPTH_MAX);
    if (!r->tok) {
        free(r);
        return NULL;
    }
    return r;
}

/* A line buffer grown by a long message (up to QMP_LINE_MAX) is given
 * back at reset; QEMU's usual lines are far below 64 KiB. */
#define QMP_READER_KEEP_BYTES (64 * 1024)

void qmp_reader_reset(struct qmp_reader *r)
{
    if (!r)
        return;
    r->len = 0;
    json_tokener_reset(r->tok);
    if (r->cap > QMP_READER_KEEP_BYTES) {
        free(r->line);
        r->line = NULL;
        r->cap = 0;
    }
}

void qmp_reader_free(struct qmp_reader *r)
{
    if (!r)
        return;
    json_tokener_free(r->tok);
    free(r->line);
    free(r);
}

static int reader_line(struct qmp_reader *r, qmp_reader_fn fn, void *userdata, const char **why)
{
    json_object *obj;
    size_t len = r->len;
    int ret;

    while (len > 0 && (r->line[len - 1] == '\r' || r->line[len - 1] == ' '))
        len--;
    if (len == 0)
        return 0;
    json_tokener_reset(r->tok);
    obj = json_tokener_parse_ex(r->tok, r->line, (int)len);
    if (!obj || json_tokener_get_parse_end(r->tok) != len) {
        enum json_tokener_error e = json_tokener_get_error(r->tok);
        json_object_put(obj);
        *why = e == json_tokener_error_depth ? "message nested too deeply" : "a line that is not JSON";
        return -EBADMSG;
    }
    ret = fn(obj, userdata);
    json_object_put(obj);
    if (ret < 0 && ret != -ECANCELED)
        *why = "not a QMP message";
    return ret;
}

int qmp_reader_feed(struct qmp_reader *r, const char *buf, size_t len, qmp_reader_fn fn,
                    void *userdata, const char **why)
{
    while (len > 0) {
        const char *nl = memchr(buf, '\n', len);
        size_t chunk = nl ? (size_t)(nl - buf) : len;
        int ret;

        if (r->len + chunk > QMP_LINE_MAX) {
            *why = "a line longer than 1 MiB";
            return -EMSGSIZE;
        }
        if (grow_reserve(&r->line, &r->cap, r->len + chunk + 1, 1, 4096) < 0) {
            *why = "out of memory";
            return -ENOMEM;
        }
        memcpy(r->line + r->len, buf, chunk);
        r->len += chunk;
        if (!nl)
            break;
        ret = reader_line(r, fn, userdata, why);
        r->len = 0;
        if (ret < 0)
            return ret;
        buf += chunk + 1;
        len -= chunk + 1;
    }
    return 0;
}
