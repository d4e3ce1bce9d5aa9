/* qmp.h: a QMP client for one QEMU, on the daemon's sd-event loop.
 *
 * It never blocks: connect, greeting, qmp_capabilities, then commands
 * with unique numeric ids whose replies may arrive after any number of
 * events. Replies with an id we did not send are dropped. Every command
 * has a deadline; a peer that misses one, sends a line longer than
 * QMP_LINE_MAX, nests deeper than QMP_DEPTH_MAX or sends something that
 * is not QMP is closed with a reason (the owner decides about retrying).
 *
 * The pure part (qmp_classify, the typed readers, qmp_guest_stats_parse,
 * the line reader) lives apart from the I/O, in qmp_msg.c, so that it is
 * unit-tested and fuzzed on strings. */
#pragma once
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

/* QEMU's largest replies to what we send (qom-list of /machine/peripheral
 * on a guest with many devices) are a few KiB; 1 MiB leaves a margin of
 * two orders of magnitude and still bounds a hostile peer. */
#define QMP_LINE_MAX (1024 * 1024)
/* QMP's deepest messages we read are 4 levels; 32 is generous. */
#define QMP_DEPTH_MAX 32
#define QMP_GREETING_TIMEOUT_MS 3000
#define QMP_COMMAND_TIMEOUT_MS 10000

/* A number that QEMU or the guest reports as "not known":
 * 18446744073709551615 (or -1 on older QEMU). */
#define QMP_UNKNOWN UINT64_MAX

enum qmp_msg_type {
    QMP_MSG_GREETING,
    QMP_MSG_RETURN,
    QMP_MSG_ERROR,
    QMP_MSG_EVENT,
};

/* A classified message. Pointers borrow from the json_object given to
 * qmp_classify(). */
struct qmp_msg {
    enum qmp_msg_type type;
    bool has_id;
    uint64_t id;
    json_object *ret;        /* RETURN: the "return" value */
    const char *err_class;   /* ERROR */
    const char *err_desc;    /* ERROR, may be "" */
    const char *event;       /* EVENT */
    json_object *data;       /* EVENT: may be NULL */
};

/* Returns 0, or -EBADMSG when the object is not a QMP message. */
int qmp_classify(json_object *obj, struct qmp_msg *out);

/* Reads an unsigned number, mapping QEMU's "unknown" markers (2^64-1, -1,
 * absent, not a number) to QMP_UNKNOWN. */
uint64_t qmp_u64(json_object *obj, const char *key);
/* Typed reads of a peer's values: every value taken from a reply or an
 * event goes through one of these (or qmp_u64), never json-c's
 * converting getters, which turn null into NULL and "yes" into true.
 * qmp_str: obj[key] when it is a string, else NULL (obj may be NULL or
 * not an object). qmp_bool: 0, or -EBADMSG when v is not a boolean. */
const char *qmp_str(json_object *obj, const char *key);
int qmp_bool(json_object *v, bool *out);

/* The balloon's guest statistics, from qom-get guest-stats. Sizes in
 * bytes, counters as reported; QMP_UNKNOWN where the guest did not say. */
struct qmp_guest_stats {
    uint64_t last_update_s;    /* wall clock seconds; 0 = never reported */
    uint64_t swap_in_bytes;
    uint64_t swap_out_bytes;
    uint64_t major_faults;
    uint64_t minor_faults;
    uint64_t free_bytes;
    uint64_t total_bytes;
    uint64_t avail_bytes;
    uint64_t disk_caches_bytes;
    uint64_t oom_kills;        /* QEMU >= 9.2 */
    uint64_t alloc_stalls;     /* QEMU >= 9.2 */
};
/* Returns 0 or -EBADMSG when ret has no "stats" object. */
int qmp_guest_stats_parse(json_object *ret, struct qmp_guest_stats *out);

/* Splits a byte stream into lines and parses each as one JSON object.
 * qmp_reader_feed() calls fn for each complete message; it returns 0, or
 * a negative errno with *why set when the stream must be dropped. */
struct qmp_reader;
typedef int (*qmp_reader_fn)(json_object *obj, void *userdata);
struct qmp_reader *qmp_reader_new(void);
void qmp_reader_free(struct qmp_reader *r);
/* Drops a partial line (the connection it came from is gone). */
void qmp_reader_reset(struct qmp_reader *r);
int qmp_reader_feed(struct qmp_reader *r, const char *buf, size_t len, qmp_reader_fn fn,
                    void *userdata, const char **why);

/* The connection. */
struct qmp;
typedef void (*qmp_reply_fn)(struct qmp *q, const struct qmp_msg *reply, void *userdata);
struct qmp_ops {
    /* Handshake done: commands may be sent. */
    void (*ready)(struct qmp *q, void *userdata);
    void (*event)(struct qmp *q, const struct qmp_msg *ev, void *userdata);
    /* The connection is gone (err < 0) with a human reason. Pending
     * commands are dropped without their callbacks. The qmp object stays
     * valid; qmp_connect() may be called again. */
    void (*closed)(struct qmp *q, int err, const char *why, void *userdata);
};

int qmp_new(sd_event *ev, const char *path, const char *name, const struct qmp_ops *ops,
            void *userdata, struct qmp **out);
/* Safe from inside any of q's callbacks (the free is then completed when
 * the callback returns); so is qmp_close. */
void qmp_free(struct qmp *q);
/* Starts connecting; the outcome arrives through ops. Returns 0, or a
 * negative errno when the socket cannot even be attempted (then closed
 * is not called). */
int qmp_connect(struct qmp *q);
void qmp_close(struct qmp *q, int err, const char *why);
bool qmp_is_ready(const struct qmp *q);
/* QEMU's PID, from SO_PEERCRED, or 0. */
pid_t qmp_peer_pid(const struct qmp *q);
/* The serving process's uid and gid (SO_PEERCRED) since the last
 * qmp_connect(); -1 when unknown. */
void qmp_peer_ids(const struct qmp *q, uid_t *uid, gid_t *gid);
/* How long a command may wait for its reply before the connection is
 * closed (default QMP_COMMAND_TIMEOUT_MS); for commands sent later. */
void qmp_set_command_timeout(struct qmp *q, unsigned ms);
/* Sends cmd with args (taken over, may be NULL). fn may be NULL.
 * Returns 0 or -ENOTCONN. */
int qmp_command(struct qmp *q, const char *cmd, json_object *args, qmp_reply_fn fn, void *userdata);
/* The same with the arguments already serialised (a JSON object, or
 * NULL), for a command sent to every VM every tick: no json-c objects
 * built per command. -EINVAL for a command name that is not a QMP word. */
int qmp_command_raw(struct qmp *q, const char *cmd, const char *args_json, qmp_reply_fn fn, void *userdata);
