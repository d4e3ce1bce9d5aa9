/* QMP: message classification, the line reader (garbage, long lines,
 * deep nesting), guest stats with "unknown" values, and the client
 * against a scripted peer on a real unix socket: events before replies,
 * unknown ids, unknown keys, garbage and silence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qmp.h"
#include "fixture.h"
#include "util.h"

static json_object *parse(const char *s)
{
    json_object *o = json_tokener_parse(s);
    assert_non_null(o);
    return o;
}

static void test_classify(void **state)
{
    static const struct {
        const char *json;
        int ret;
        enum qmp_msg_type type;
        bool has_id;
        uint64_t id;
    } cases[] = {
        {"{\"QMP\":{\"version\":{},\"capabilities\":[]}}", 0, QMP_MSG_GREETING, false, 0},
        {"{\"return\":{},\"id\":7}", 0, QMP_MSG_RETURN, true, 7},
        {"{\"return\":{},\"id\":7,\"unknown-key\":[1,2]}", 0, QMP_MSG_RETURN, true, 7},
        {"{\"return\":{}}", 0, QMP_MSG_RETURN, false, 0},
        {"{\"return\":{},\"id\":\"a string id\"}", 0, QMP_MSG_RETURN, false, 0},
        {"{\"error\":{\"class\":\"DeviceNotActive\",\"desc\":\"x\"},\"id\":3}", 0, QMP_MSG_ERROR, true, 3},
        {"{\"error\":{\"desc\":\"no class\"},\"id\":3}", -EBADMSG, 0, false, 0},
        {"{\"event\":\"STOP\",\"timestamp\":{\"seconds\":1,\"microseconds\":2}}", 0, QMP_MSG_EVENT, false, 0},
        {"{\"event\":42}", -EBADMSG, 0, false, 0},
        {"{\"hello\":1}", -EBADMSG, 0, false, 0},
        {"[1,2]", -EBADMSG, 0, false, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object *o = parse(cases[i].json);
        struct qmp_msg m = {0};
        int r = qmp_classify(o, &m);
        print_message("  %s -> %d\n", cases[i].json, r);
        assert_int_equal(r, cases[i].ret);
        if (r == 0) {
            assert_int_equal(m.type, cases[i].type);
            assert_int_equal(m.has_id, cases[i].has_id);
            assert_int_equal(m.id, cases[i].id);
        }
        json_object_put(o);
    }
}

static void test_u64_unknown(void **state)
{
    json_object *o = parse("{\"a\":18446744073709551615,\"b\":-1,\"c\":5,\"d\":\"5\","
                           "\"e\":18446744073709551614,\"f\":0}");
    assert_true(qmp_u64(o, "a") == QMP_UNKNOWN);
    assert_true(qmp_u64(o, "b") == QMP_UNKNOWN);
    assert_true(qmp_u64(o, "c") == 5);
    assert_true(qmp_u64(o, "d") == QMP_UNKNOWN);
    assert_true(qmp_u64(o, "e") == 18446744073709551614ULL);
    assert_true(qmp_u64(o, "f") == 0);
    assert_true(qmp_u64(o, "missing") == QMP_UNKNOWN);
    assert_true(qmp_u64(NULL, "a") == QMP_UNKNOWN);
    json_object_put(o);
}

static void test_guest_stats(void **state)
{
    struct qmp_guest_stats st;
    /* Before the guest reports: last-update 0, every value unknown. */
    json_object *fresh = parse("{\"stats\":{\"stat-swap-in\":18446744073709551615,"
                               "\"stat-available-memory\":18446744073709551615,"
                               "\"stat-total-memory\":-1},\"last-update\":0}");
    json_object *real = parse("{\"stats\":{\"stat-swap-out\":0,\"stat-available-memory\":454279168,"
                              "\"stat-free-memory\":449368064,\"stat-minor-faults\":1208,"
                              "\"stat-major-faults\":3,\"stat-total-memory\":508030976,"
                              "\"stat-swap-in\":0,\"stat-disk-caches\":1470464,"
                              "\"stat-new-in-qemu-99\":1},\"last-update\":1764000000}");
    json_object *bad = parse("{\"last-update\":1}");

    assert_int_equal(qmp_guest_stats_parse(fresh, &st), 0);
    assert_int_equal(st.last_update_s, 0);
    assert_true(st.swap_in_bytes == QMP_UNKNOWN);
    assert_true(st.avail_bytes == QMP_UNKNOWN);
    assert_true(st.total_bytes == QMP_UNKNOWN);
    assert_true(st.oom_kills == QMP_UNKNOWN);

    assert_int_equal(qmp_guest_stats_parse(real, &st), 0);
    assert_int_equal(st.last_update_s, 1764000000);
    assert_int_equal(st.avail_bytes, 454279168);
    assert_int_equal(st.total_bytes, 508030976);
    assert_int_equal(st.major_faults, 3);
    assert_true(st.alloc_stalls == QMP_UNKNOWN); /* QEMU < 9.2 */

    st.total_bytes = 42;
    assert_int_equal(qmp_guest_stats_parse(bad, &st), -EBADMSG);
    assert_int_equal(st.total_bytes, 42); /* untouched on failure */
    json_object_put(fresh);
    json_object_put(real);
    json_object_put(bad);
}

static int count_fn(json_object *o, void *userdata)
{
    struct qmp_msg m;
    if (qmp_classify(o, &m) < 0)
        return -EBADMSG;
    (*(int *)userdata)++;
    return 0;
}

static void test_reader(void **state)
{
    struct qmp_reader *r = qmp_reader_new();
    const char *why = NULL;
    const char *two = "{\"return\":{},\"id\":1}\r\n{\"event\":\"RESUME\"}\r\n";
    char *big;
    int n = 0;

    /* Fed one byte at a time: the same two messages. */
    for (const char *p = two; *p; p++)
        assert_int_equal(qmp_reader_feed(r, p, 1, count_fn, &n, &why), 0);
    assert_int_equal(n, 2);
    /* Empty lines are fine. */
    assert_int_equal(qmp_reader_feed(r, "\r\n\n", 3, count_fn, &n, &why), 0);
    assert_int_equal(qmp_reader_feed(r, "{{{ garbage\n", 12, count_fn, &n, &why), -EBADMSG);
    assert_string_equal(why, "a line that is not JSON");
    qmp_reader_free(r);

    r = qmp_reader_new();
    assert_int_equal(qmp_reader_feed(r, "{\"a\":1} trailing\n", 17, count_fn, &n, &why), -EBADMSG);
    qmp_reader_free(r);

    r = qmp_reader_new();
    assert_int_equal(qmp_reader_feed(r, "{\"hello\":1}\n", 12, count_fn, &n, &why), -EBADMSG);
    assert_string_equal(why, "not a QMP message");
    qmp_reader_free(r);

    /* Nesting past the cap. */
    r = qmp_reader_new();
    big = malloc(QMP_LINE_MAX + 2);
    for (int i = 0; i < 100; i++)
        memcpy(big + i * 5, "{\"a\":", 5);
    big[500] = '\n';
    assert_int_equal(qmp_reader_feed(r, big, 501, count_fn, &n, &why), -EBADMSG);
    assert_string_equal(why, "message nested too deeply");
    qmp_reader_free(r);

    /* A line longer than the cap, in pieces, with no newline. */
    r = qmp_reader_new();
    memset(big, 'x', QMP_LINE_MAX + 1);
    assert_int_equal(qmp_reader_feed(r, big, QMP_LINE_MAX / 2, count_fn, &n, &why), 0);
    assert_int_equal(qmp_reader_feed(r, big, QMP_LINE_MAX / 2 + 1, count_fn, &n, &why), -EMSGSIZE);
    qmp_reader_free(r);
    free(big);
}

/* ---- the client against a scripted peer ---------------------------------- */

struct peer {
    char path[108];
    int lfd, fd;
    sd_event *ev;
    struct qmp *q;
    int ready, events, closed, replies;
    int last_err;
    char why[160];
    uint64_t actual;
    char err_class[64];
};

static void on_ready(struct qmp *q, void *ud) { ((struct peer *)ud)->ready++; }
static void on_event(struct qmp *q, const struct qmp_msg *m, void *ud) { ((struct peer *)ud)->events++; }
static void on_closed(struct qmp *q, int err, const char *why, void *ud)
{
    struct peer *p = ud;
    p->closed++;
    p->last_err = err;
    snprintf(p->why, sizeof(p->why), "%s", why);
}
static const struct qmp_ops ops = {on_ready, on_event, on_closed};

static void on_reply(struct qmp *q, const struct qmp_msg *m, void *ud)
{
    struct peer *p = ud;
    p->replies++;
    if (m->type == QMP_MSG_RETURN)
        p->actual = qmp_u64(m->ret, "actual");
    else
        snprintf(p->err_class, sizeof(p->err_class), "%s", m->err_class);
}

static int peer_setup(void **state)
{
    struct peer *p = calloc(1, sizeof(*p));

    snprintf(p->path, sizeof(p->path), "/tmp/balloond-test-qmp.%d", getpid());
    p->lfd = fixture_listen(p->path);
    assert_int_equal(sd_event_new(&p->ev), 0);
    assert_int_equal(qmp_new(p->ev, p->path, "test", &ops, p, &p->q), 0);
    assert_int_equal(qmp_connect(p->q), 0);
    p->fd = accept(p->lfd, NULL, NULL);
    assert_true(p->fd >= 0);
    *state = p;
    return 0;
}

static int peer_teardown(void **state)
{
    struct peer *p = *state;
    qmp_free(p->q);
    sd_event_unref(p->ev);
    close(p->fd);
    close(p->lfd);
    unlink(p->path);
    free(p);
    return 0;
}

static void peer_send(struct peer *p, const char *s)
{
    assert_int_equal(write(p->fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* Runs the loop until the client has sent a line; returns its id. */
static uint64_t peer_read_command(struct peer *p, const char *want_cmd)
{
    char line[4096];
    size_t len = 0;
    json_object *o, *v;
    uint64_t id;

    while (!memchr(line, '\n', len)) {
        ssize_t n;
        sd_event_run(p->ev, 100000);
        n = recv(p->fd, line + len, sizeof(line) - 1 - len, MSG_DONTWAIT);
        if (n > 0)
            len += (size_t)n;
    }
    line[len] = '\0';
    o = json_tokener_parse(line);
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "execute", &v));
    assert_string_equal(json_object_get_string(v), want_cmd);
    assert_true(json_object_object_get_ex(o, "id", &v));
    id = json_object_get_uint64(v);
    json_object_put(o);
    return id;
}

static void run_until(struct peer *p, int *counter, int want, int max_ms)
{
    for (int t = 0; *counter < want && t < max_ms; t += 10)
        sd_event_run(p->ev, 10000);
}

static void handshake(struct peer *p)
{
    char buf[256];
    uint64_t id;

    peer_send(p, "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7}}, \"capabilities\": [\"oob\"], \"new\": 1}}\r\n");
    id = peer_read_command(p, "qmp_capabilities");
    snprintf(buf, sizeof(buf), "{\"event\":\"RESUME\"}\r\n{\"return\": {}, \"id\": %llu}\r\n",
             (unsigned long long)id);
    peer_send(p, buf);
    run_until(p, &p->ready, 1, 2000);
    assert_int_equal(p->ready, 1);
    assert_false(p->events); /* events before ready are not passed on */
    assert_true(qmp_is_ready(p->q));
    assert_int_equal(qmp_peer_pid(p->q), getpid());
}

static void test_client_events_and_ids(void **state)
{
    struct peer *p = *state;
    char buf[512];
    uint64_t id;

    handshake(p);
    assert_int_equal(qmp_command(p->q, "query-balloon", NULL, on_reply, p), 0);
    id = peer_read_command(p, "query-balloon");
    snprintf(buf, sizeof(buf),
             "{\"event\":\"BALLOON_CHANGE\",\"data\":{\"actual\":1}}\r\n"
             "{\"return\":{\"actual\":999},\"id\":%llu}\r\n"
             "{\"event\":\"STOP\"}\r\n"
             "{\"return\":{\"actual\":536870912,\"x\":{}},\"id\":%llu}\r\n",
             (unsigned long long)id + 1000, (unsigned long long)id);
    peer_send(p, buf);
    run_until(p, &p->replies, 1, 2000);
    assert_int_equal(p->replies, 1);
    assert_int_equal(p->actual, 536870912);
    assert_int_equal(p->events, 2);
    assert_int_equal(p->closed, 0);

    /* An error reply goes to the same callback, with its class. */
    assert_int_equal(qmp_command(p->q, "balloon", json_object_new_object(), on_reply, p), 0);
    id = peer_read_command(p, "balloon");
    snprintf(buf, sizeof(buf),
             "{\"id\":%llu,\"error\":{\"class\":\"DeviceNotActive\",\"desc\":\"No balloon device\"}}\r\n",
             (unsigned long long)id);
    peer_send(p, buf);
    run_until(p, &p->replies, 2, 2000);
    assert_string_equal(p->err_class, "DeviceNotActive");
}

/* A command with serialised arguments (issue 12: no json-c objects per
 * tick) is the same JSON on the wire; a name that is not a QMP word is
 * refused without a word sent or the connection lost. */
static void test_client_raw_command(void **state)
{
    struct peer *p = *state;
    char line[512];
    size_t len = 0;
    json_object *o, *v, *args;

    handshake(p);
    assert_int_equal(qmp_command_raw(p->q, "bad\",\"x", NULL, on_reply, p), -EINVAL);
    assert_true(qmp_is_ready(p->q));
    assert_int_equal(qmp_command_raw(p->q, "qom-get", "{\"path\":\"/machine/peripheral/b0\",\"property\":"
                                     "\"guest-stats\"}", on_reply, p), 0);
    while (!memchr(line, '\n', len)) {
        ssize_t n = recv(p->fd, line + len, sizeof(line) - 1 - len, 0);
        assert_true(n > 0);
        len += (size_t)n;
    }
    line[len] = '\0';
    print_message("  %s", line);
    o = json_tokener_parse(line);
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "execute", &v));
    assert_string_equal(json_object_get_string(v), "qom-get");
    assert_true(json_object_object_get_ex(o, "arguments", &args));
    assert_true(json_object_object_get_ex(args, "property", &v));
    assert_string_equal(json_object_get_string(v), "guest-stats");
    assert_true(json_object_object_get_ex(o, "id", &v));
    assert_int_equal(json_object_get_int(v), 2); /* the first was qmp_capabilities */
    json_object_put(o);
}

static void test_client_garbage_closes(void **state)
{
    struct peer *p = *state;

    handshake(p);
    assert_int_equal(qmp_command(p->q, "query-status", NULL, on_reply, p), 0);
    peer_read_command(p, "query-status");
    peer_send(p, "\x01\xfe garbage {{{\r\n");
    run_until(p, &p->closed, 1, 2000);
    assert_int_equal(p->closed, 1);
    assert_int_equal(p->replies, 0); /* dropped, not called */
    assert_string_equal(p->why, "protocol error: a line that is not JSON");
    assert_false(qmp_is_ready(p->q));
    assert_int_equal(qmp_command(p->q, "query-status", NULL, NULL, NULL), -ENOTCONN);
}

static void test_client_silent_peer_times_out(void **state)
{
    struct peer *p = *state;

    run_until(p, &p->closed, 1, QMP_GREETING_TIMEOUT_MS + 2000);
    assert_int_equal(p->closed, 1);
    assert_int_equal(p->last_err, -ETIMEDOUT);
    print_message("  %s\n", p->why);
}

/* The timer is armed lazily (issue 12): for the oldest command's deadline
 * only when nothing earlier is armed, and re-armed when it fires early.
 * A command that is never answered still closes the connection on time,
 * whether it was first in the queue or sent after answered ones. */
static void test_client_command_timeout(void **state)
{
    struct peer *p = *state;
    uint64_t id, t0;
    char buf[128];

    handshake(p);
    qmp_set_command_timeout(p->q, 400);
    assert_int_equal(qmp_command(p->q, "query-status", NULL, on_reply, p), 0); /* answered */
    id = peer_read_command(p, "query-status");
    snprintf(buf, sizeof(buf), "{\"return\":{},\"id\":%llu}\r\n", (unsigned long long)id);
    peer_send(p, buf);
    run_until(p, &p->replies, 1, 1000);
    assert_int_equal(p->replies, 1);
    /* The timer still waits for the first command's deadline; the next,
     * sent 200 ms later, is never answered: closed at its own deadline. */
    for (t0 = now_ms(); now_ms() - t0 < 200;)
        sd_event_run(p->ev, 10000);
    t0 = now_ms();
    assert_int_equal(qmp_command(p->q, "query-balloon", NULL, on_reply, p), 0);
    peer_read_command(p, "query-balloon");
    run_until(p, &p->closed, 1, 3000);
    print_message("  closed after %llu ms: %s\n", (unsigned long long)(now_ms() - t0), p->why);
    assert_int_equal(p->closed, 1);
    assert_int_equal(p->last_err, -ETIMEDOUT);
    assert_string_equal(p->why, "no reply to query-balloon within 0.4 s");
    assert_true(now_ms() - t0 >= 390);
    assert_true(now_ms() - t0 < 1000);
}

static void test_client_peer_hangs_up(void **state)
{
    struct peer *p = *state;

    handshake(p);
    close(p->fd);
    p->fd = -1;
    run_until(p, &p->closed, 1, 2000);
    assert_int_equal(p->closed, 1);
    assert_string_equal(p->why, "QEMU closed the connection");
}

/* The owner frees the connection from inside a reply callback, with
 * more lines in the same read: qmp.c finishes the free when the
 * callback returns, and nothing else is dispatched. */
static void on_reply_free(struct qmp *q, const struct qmp_msg *m, void *ud)
{
    struct peer *p = ud;

    p->replies++;
    qmp_free(q);
    p->q = NULL;
}

static void test_client_freed_from_callback(void **state)
{
    struct peer *p = *state;
    char buf[256];
    uint64_t id;

    handshake(p);
    assert_int_equal(qmp_command(p->q, "query-balloon", NULL, on_reply_free, p), 0);
    assert_int_equal(qmp_command(p->q, "query-status", NULL, on_reply, p), 0);
    id = peer_read_command(p, "query-balloon");
    snprintf(buf, sizeof(buf), "{\"return\":{},\"id\":%llu}\r\n{\"event\":\"STOP\"}\r\n{\"return\":{},\"id\":%llu}\r\n",
             (unsigned long long)id, (unsigned long long)id + 1);
    peer_send(p, buf);
    run_until(p, &p->replies, 1, 2000);
    for (int i = 0; i < 10; i++)
        sd_event_run(p->ev, 1000);
    assert_int_equal(p->replies, 1); /* the second reply was not dispatched */
    assert_int_equal(p->events, 0);
    assert_null(p->q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_u64_unknown),
        cmocka_unit_test(test_guest_stats),
        cmocka_unit_test(test_reader),
        cmocka_unit_test_setup_teardown(test_client_events_and_ids, peer_setup, peer_teardown),
        cmocka_unit_test_setup_teardown(test_client_raw_command, peer_setup, peer_teardown),
        cmocka_unit_test_setup_teardown(test_client_garbage_closes, peer_setup, peer_teardown),
        cmocka_unit_test_setup_teardown(test_client_silent_peer_times_out, peer_setup, peer_teardown),
        cmocka_unit_test_setup_teardown(test_client_command_timeout, peer_setup, peer_teardown),
        cmocka_unit_test_setup_teardown(test_client_peer_hangs_up, peer_setup, peer_teardown),
        cmocka_unit_test_setup_teardown(test_client_freed_from_callback, peer_setup, peer_teardown),
    };
    log_setup(LOG_WARNING, false);
    return cmocka_run_group_tests_name("qmp", tests, NULL, NULL);
}
