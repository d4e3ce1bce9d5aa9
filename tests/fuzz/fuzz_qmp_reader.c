/* fuzz_qmp_reader: the QMP line reader and the pure readers of a message
 * (classify, guest stats, typed accessors), on any byte stream split at
 * any points. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "qmp.h"
#include "util.h"

const char *fuzz_name = "qmp_reader";

static int on_msg(json_object *obj, void *userdata)
{
    struct qmp_msg m;
    struct qmp_guest_stats st;
    bool b;

    if (qmp_classify(obj, &m) < 0)
        return (*(int *)userdata)++ % 2 ? -EBADMSG : 0;
    if (m.type == QMP_MSG_RETURN) {
        qmp_guest_stats_parse(m.ret, &st);
        qmp_u64(m.ret, "actual");
        qmp_str(m.ret, "status");
        qmp_bool(m.ret, &b);
    } else if (m.type == QMP_MSG_EVENT) {
        qmp_u64(m.data, "actual");
    } else if (m.type == QMP_MSG_ERROR && (!m.err_class || !m.err_desc)) {
        __builtin_trap(); /* classify promised both */
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct qmp_reader *r = qmp_reader_new();
    const char *why = NULL;
    size_t chunk = size ? (size_t)data[0] % 64 + 1 : 1;
    int calls = 0;

    log_setup(LOG_EMERG, false);
    for (size_t off = size ? 1 : 0; off < size; off += chunk) {
        size_t n = min_u64(chunk, size - off);
        if (qmp_reader_feed(r, (const char *)data + off, n, on_msg, &calls, &why) < 0) {
            if (!why)
                __builtin_trap(); /* a failure always says why */
            qmp_reader_reset(r);
        }
    }
    qmp_reader_free(r);
    return 0;
}
