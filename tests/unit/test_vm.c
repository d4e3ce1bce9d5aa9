/* vm.c over the QMP backend (qmp_vm.c, qmp.c) against a scripted peer on a real unix socket: the
 * replies a hostile or broken QEMU can give at each step of the setup
 * (issue 9, points 1-3). Each case once crashed the daemon or made it
 * send an absurd target:
 *   - a refused qmp_capabilities, or a size summary without base-memory,
 *     closed the connection from inside a reply callback while the
 *     reader still iterated (heap-use-after-free);
 *   - a qom-list entry whose "type" is null (NULL to strncmp);
 *   - a target of 2^64-2 (taken from a peer's actual) was sent as is. */
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

#include "fixture.h"
#include "util.h"
#include "vm.h"

/* The peer's answer to one command: a whole reply line without the id
 * (the peer adds it), e.g. {"return":{}}, or lines with @ID@ where the
 * id goes; NULL: no answer. */
typedef const char *(*answer_fn)(const char *cmd, json_object *args);

struct peer {
    char path[108];
    int lfd, fd;
    sd_event *ev;
    struct vm *vm;
    char in[65536];
    size_t in_len;
    uint64_t last_balloon_value;
    int balloons;
};

/* The tick rounds the session said were answered (test_answered). */
static uint64_t answered[8];
static size_t n_answered;

static void on_answered(void *ctx, uint64_t round)
{
    if (n_answered < ARRAY_SIZE(answered))
        answered[n_answered] = round;
    n_answered++;
}

static int peer_setup(void **state)
{
    struct peer *p = calloc(1, sizeof(*p));
    struct backend_attach a = {.answered = on_answered};

    snprintf(p->path, sizeof(p->path), "/tmp/balloond-test-vm.%d", getpid());
    p->lfd = fixture_listen(p->path);
    n_answered = 0;
    assert_int_equal(sd_event_new(&p->ev), 0);
    assert_int_equal(vm_attach(&backend_qmp, p->ev, "t1", p->path, &a, &p->vm), 0);
    p->vm->ops->start(p->vm->session);
    p->fd = accept(p->lfd, NULL, NULL);
    assert_true(p->fd >= 0);
    *state = p;
    return 0;
}

static int peer_teardown(void **state)
{
    struct peer *p = *state;

    vm_free(p->vm);
    sd_event_unref(p->ev);
    if (p->fd >= 0)
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

/* Answers one command line from the client. */
static void peer_answer(struct peer *p, const char *line, answer_fn answer)
{
    json_object *o = json_tokener_parse(line), *cmd, *id, *args = NULL, *v;
    const char *reply;
    char buf[4096];

    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "execute", &cmd));
    assert_true(json_object_object_get_ex(o, "id", &id));
    json_object_object_get_ex(o, "arguments", &args);
    if (strcmp(json_object_get_string(cmd), "balloon") == 0 && json_object_object_get_ex(args, "value", &v)) {
        p->last_balloon_value = json_object_get_uint64(v);
        p->balloons++;
    }
    reply = answer(json_object_get_string(cmd), args);
    if (reply && strstr(reply, "@ID@")) {
        /* A script with its own place for the id. */
        const char *at = strstr(reply, "@ID@");
        snprintf(buf, sizeof(buf), "%.*s%s%s\r\n", (int)(at - reply), reply, json_object_get_string(id),
                 at + 4);
        peer_send(p, buf);
    } else if (reply) {
        /* The reply's closing brace gives way to the id. */
        snprintf(buf, sizeof(buf), "%.*s,\"id\":%s}\r\n", (int)strlen(reply) - 1, reply,
                 json_object_get_string(id));
        peer_send(p, buf);
    }
    json_object_put(o);
}

/* Runs the loop for max_ms, answering every command the client sends. */
static void peer_serve(struct peer *p, answer_fn answer, int max_ms)
{
    for (int t = 0; t < max_ms; t += 5) {
        char *nl;
        ssize_t n;

        sd_event_run(p->ev, 5000);
        n = recv(p->fd, p->in + p->in_len, sizeof(p->in) - 1 - p->in_len, MSG_DONTWAIT);
        if (n > 0)
            p->in_len += (size_t)n;
        while ((nl = memchr(p->in, '\n', p->in_len))) {
            *nl = '\0';
            peer_answer(p, p->in, answer);
            p->in_len -= (size_t)(nl + 1 - p->in);
            memmove(p->in, nl + 1, p->in_len);
        }
    }
}

static const char *greeting = "{\"QMP\":{\"version\":{\"qemu\":{\"major\":7}},\"capabilities\":[]}}\r\n";

/* A well-behaved QEMU with a balloon. */
static const char *answer_good(const char *cmd, json_object *args)
{
    json_object *path;
    const char *s = "";

    if (strcmp(cmd, "qom-list") == 0) {
        json_object_object_get_ex(args, "path", &path);
        s = json_object_get_string(path);
        return strcmp(s, "/machine/peripheral") == 0
                   ? "{\"return\":[{\"name\":\"type\",\"type\":\"string\"},"
                     "{\"name\":\"balloon0\",\"type\":\"child<virtio-balloon-pci>\"}]}"
                   : "{\"return\":[]}";
    }
    if (strcmp(cmd, "query-memory-size-summary") == 0)
        return "{\"return\":{\"base-memory\":536870912}}";
    if (strcmp(cmd, "query-status") == 0)
        return "{\"return\":{\"status\":\"running\",\"running\":true}}";
    if (strcmp(cmd, "query-balloon") == 0)
        return "{\"return\":{\"actual\":18446744073709551614}}";
    if (strcmp(cmd, "qom-get") == 0)
        return "{\"return\":false}";
    return "{\"return\":{}}";
}

/* Refuses qmp_capabilities, and sends an event in the same write. */
static const char *answer_refuse_caps(const char *cmd, json_object *args)
{
    if (strcmp(cmd, "qmp_capabilities") == 0)
        return "{\"error\":{\"class\":\"GenericError\",\"desc\":\"no\"},\"id\":@ID@}\r\n"
               "{\"event\":\"STOP\",\"data\":{}}";
    return answer_good(cmd, args);
}

static const char *answer_no_base(const char *cmd, json_object *args)
{
    if (strcmp(cmd, "query-memory-size-summary") == 0)
        return "{\"return\":{\"plugged-memory\":0}}";
    return answer_good(cmd, args);
}

static const char *answer_null_types(const char *cmd, json_object *args)
{
    if (strcmp(cmd, "qom-list") == 0)
        return "{\"return\":[{\"name\":\"x\",\"type\":null},{\"name\":null,\"type\":\"child<virtio-balloon\"},"
               "{\"name\":\"y\",\"type\":42},{\"type\":[]},17]}";
    return answer_good(cmd, args);
}

static void test_caps_refused(void **state)
{
    struct peer *p = *state;

    /* The reply callback closes the connection while the reader still
     * has a line to go in the same read. */
    peer_send(p, greeting);
    peer_serve(p, answer_refuse_caps, 200);
    print_message("  state %s, error \"%s\"\n", vm_conn_str(p->vm->link.conn), p->vm->link.last_error);
    assert_int_equal(p->vm->link.conn, VM_RETRY);
    assert_string_equal(p->vm->link.last_error, "qmp_capabilities was refused");
}

static void test_no_base_memory(void **state)
{
    struct peer *p = *state;

    peer_send(p, greeting);
    peer_serve(p, answer_no_base, 300);
    print_message("  state %s, error \"%s\"\n", vm_conn_str(p->vm->link.conn), p->vm->link.last_error);
    assert_int_equal(p->vm->link.conn, VM_RETRY);
    assert_string_equal(p->vm->link.last_error, "query-memory-size-summary gave no base-memory");
}

static void test_qom_list_null_type(void **state)
{
    struct peer *p = *state;

    peer_send(p, greeting);
    peer_serve(p, answer_null_types, 300);
    print_message("  state %s, error \"%s\"\n", vm_conn_str(p->vm->link.conn), p->vm->link.last_error);
    assert_int_equal(p->vm->link.conn, VM_NO_BALLOON);
}

static void test_target_clamped(void **state)
{
    struct peer *p = *state;
    static const struct {
        uint64_t asked, sent;
    } cases[] = {
        {18446744073709551614ULL, 512 * MIB}, /* the peer's actual, issue 9 */
        {UINT64_MAX, 512 * MIB},
        {600 * MIB, 512 * MIB},
        {300 * MIB, 300 * MIB},
        {1, 128 * MIB},
        {0, 128 * MIB},
    };

    peer_send(p, greeting);
    peer_serve(p, answer_good, 300);
    assert_int_equal(p->vm->link.conn, VM_READY);
    assert_int_equal(p->vm->link.size_bytes, 512 * MIB);
    p->vm->set.min_bytes = 128 * MIB;
    p->vm->set.max_bytes = 512 * MIB;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        int before = p->balloons;
        assert_int_equal(vm_send_target(p->vm, cases[i].asked), 0);
        peer_serve(p, answer_good, 30);
        assert_int_equal(p->balloons, before + 1);
        print_message("  asked %llu -> sent %llu\n", (unsigned long long)cases[i].asked,
                      (unsigned long long)p->last_balloon_value);
        assert_true(p->last_balloon_value == cases[i].sent);
    }
    /* Bounds not known yet (max 0): nothing is sent, never a 0. */
    p->vm->set.min_bytes = p->vm->set.max_bytes = 0;
    vm_send_target(p->vm, 0);
    peer_serve(p, answer_good, 30);
    assert_int_equal(p->balloons, (int)ARRAY_SIZE(cases));
}

/* No reply to guest-stats: the question stays open. */
static const char *answer_no_stats(const char *cmd, json_object *args)
{
    return strcmp(cmd, "qom-get") == 0 ? NULL : answer_good(cmd, args);
}

/* The tick decides when every VM has answered (issue 12): a poll for a
 * round is answered once, whatever becomes of the question; a VM whose
 * last question is open is not asked again (nor waited for). */
static void test_answered(void **state)
{
    struct peer *p = *state;
    struct session *s;

    peer_send(p, greeting);
    peer_serve(p, answer_good, 300);
    assert_int_equal(p->vm->link.conn, VM_READY);
    s = p->vm->session;
    n_answered = 0;
    assert_true(p->vm->ops->poll(s, 7));
    assert_false(p->vm->ops->poll(s, 8)); /* 7's question is still out */
    peer_serve(p, answer_good, 50);
    assert_int_equal(n_answered, 1);
    assert_int_equal(answered[0], 7);

    assert_true(p->vm->ops->poll(s, 9));
    peer_serve(p, answer_no_stats, 50);
    assert_int_equal(n_answered, 1); /* no reply, no answer */
    assert_false(p->vm->ops->poll(s, 10));
    close(p->fd); /* QEMU goes: the open question is answered by the close */
    p->fd = -1;
    for (int i = 0; i < 20 && n_answered < 2; i++)
        sd_event_run(p->ev, 10 * 1000);
    assert_int_equal(n_answered, 2);
    assert_int_equal(answered[1], 9);
    assert_int_equal(p->vm->link.conn, VM_RETRY);
    assert_false(p->vm->ops->poll(s, 11)); /* not connected */
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_caps_refused, peer_setup, peer_teardown),
        cmocka_unit_test_setup_teardown(test_no_base_memory, peer_setup, peer_teardown),
        cmocka_unit_test_setup_teardown(test_qom_list_null_type, peer_setup, peer_teardown),
        cmocka_unit_test_setup_teardown(test_target_clamped, peer_setup, peer_teardown),
        cmocka_unit_test_setup_teardown(test_answered, peer_setup, peer_teardown),
    };
    log_setup(LOG_ERR, false);
    if (argc > 1)
        cmocka_set_test_filter(argv[1]); /* e.g. test_vm test_target_clamped */
    return cmocka_run_group_tests_name("vm", tests, NULL, NULL);
}
