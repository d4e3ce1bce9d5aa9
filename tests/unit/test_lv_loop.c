/* lv_loop: libvirt's event loop contract kept on sd-event, driven through
 * libvirt's public virEventAdd/Update/Remove* calls (which dispatch to the
 * registered implementation), with no libvirtd: periodic, zero and
 * disabled timers; handles on a pipe with libvirt's flags; ff called
 * after remove returns and never from inside it; changes made from
 * another thread applied on the loop thread. The same path with a real
 * libvirtd is tests/integration/test_lv_loop.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <libvirt/libvirt.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "lv_loop.h"
#include "fixture.h"
#include "util.h"

static sd_event *ev;
static pthread_t loop_thread;

struct rec {
    int fired;
    int last_id;
    int last_fd;
    int last_events;
    bool off_loop;       /* a callback ran on another thread */
    int freed;
    bool freed_off_loop;
    bool in_remove;      /* set around a remove call */
    bool freed_in_remove;
    int remove_id;       /* remove this id from inside the callback */
};

static void rec_timer(int timer, void *opaque)
{
    struct rec *r = opaque;

    r->fired++;
    r->last_id = timer;
    r->off_loop |= !pthread_equal(pthread_self(), loop_thread);
    if (r->remove_id) {
        r->in_remove = true;
        assert_int_equal(virEventRemoveTimeout(r->remove_id), 0);
        r->in_remove = false;
        r->remove_id = 0;
    }
}

static void rec_handle(int watch, int fd, int events, void *opaque)
{
    struct rec *r = opaque;
    char c;

    r->fired++;
    r->last_id = watch;
    r->last_fd = fd;
    r->last_events = events;
    r->off_loop |= !pthread_equal(pthread_self(), loop_thread);
    if (events & VIR_EVENT_HANDLE_READABLE)
        assert_true(read(fd, &c, 1) >= 0);
    if (r->remove_id) {
        r->in_remove = true;
        assert_int_equal(virEventRemoveHandle(r->remove_id), 0);
        r->in_remove = false;
        r->remove_id = 0;
    }
}

static void rec_free(void *opaque)
{
    struct rec *r = opaque;

    r->freed++;
    r->freed_in_remove |= r->in_remove;
    r->freed_off_loop |= !pthread_equal(pthread_self(), loop_thread);
}

static int group_setup(void **state)
{
    loop_thread = pthread_self();
    assert_int_equal(sd_event_new(&ev), 0);
    assert_int_equal(lv_loop_register(ev), 0);
    assert_int_equal(lv_loop_register(ev), -EALREADY);
    return 0;
}

static int group_teardown(void **state)
{
    /* lv_loop keeps its reference for the life of the process. */
    sd_event_unref(ev);
    return 0;
}

static void test_flags(void **state)
{
    static const struct { int vir; unsigned ep; } cases[] = {
        {VIR_EVENT_HANDLE_READABLE, EPOLLIN},
        {VIR_EVENT_HANDLE_WRITABLE, EPOLLOUT},
        {VIR_EVENT_HANDLE_ERROR, EPOLLERR},
        {VIR_EVENT_HANDLE_HANGUP, EPOLLHUP},
        {VIR_EVENT_HANDLE_READABLE | VIR_EVENT_HANDLE_WRITABLE, EPOLLIN | EPOLLOUT},
        {0, 0},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        assert_int_equal(lv_loop_epoll_events(cases[i].vir), cases[i].ep);
        assert_int_equal(lv_loop_vir_events(cases[i].ep), cases[i].vir);
    }
    /* What libvirt has no flag for is not passed on. */
    assert_int_equal(lv_loop_vir_events(EPOLLPRI | EPOLLRDHUP), 0);
}

static void test_timer_periodic(void **state)
{
    struct rec r = {0};
    int id = virEventAddTimeout(20, rec_timer, &r, rec_free);

    assert_true(id > 0);
    fixture_run_loop(ev, 210);
    /* 20 ms periodic for 210 ms: 10, less the re-arm drift. */
    assert_in_range(r.fired, 7, 10);
    assert_int_equal(r.last_id, id);
    assert_false(r.off_loop);

    /* -1: off; the same id again: on. */
    virEventUpdateTimeout(id, -1);
    int before = r.fired;
    fixture_run_loop(ev, 60);
    assert_int_equal(r.fired, before);
    virEventUpdateTimeout(id, 10);
    fixture_run_loop(ev, 55);
    assert_in_range(r.fired - before, 3, 5);

    assert_int_equal(virEventRemoveTimeout(id), 0);
    assert_int_equal(r.freed, 0);   /* not from inside remove */
    assert_int_equal(virEventRemoveTimeout(id), -1);
    before = r.fired;
    fixture_run_loop(ev, 30);
    assert_int_equal(r.fired, before);
    assert_int_equal(r.freed, 1);
    assert_false(r.freed_off_loop);
}

static void test_timer_zero_and_disabled(void **state)
{
    struct rec zero = {0}, off = {0};
    int z = virEventAddTimeout(0, rec_timer, &zero, rec_free);
    int o = virEventAddTimeout(-1, rec_timer, &off, rec_free);

    assert_true(z > 0 && o > 0 && z != o);
    for (int i = 0; i < 5; i++)
        assert_true(sd_event_run(ev, 100 * 1000) >= 0);
    /* Every iteration, without waiting for the 100 ms. */
    assert_int_equal(zero.fired, 5);

    /* Removed from inside its own callback: ff later, once. */
    zero.remove_id = z;
    assert_true(sd_event_run(ev, 100 * 1000) >= 0);
    assert_int_equal(zero.fired, 6);
    assert_int_equal(zero.freed, 0);
    fixture_run_loop(ev, 50);
    assert_int_equal(zero.fired, 6);
    assert_int_equal(zero.freed, 1);
    assert_false(zero.freed_in_remove);
    assert_int_equal(off.fired, 0);
    assert_int_equal(virEventRemoveTimeout(o), 0);
    fixture_run_loop(ev, 10);
    assert_int_equal(off.freed, 1);
}

static void test_handle(void **state)
{
    struct rec r = {0};
    int p[2];

    assert_int_equal(pipe(p), 0);
    int id = virEventAddHandle(p[0], VIR_EVENT_HANDLE_READABLE, rec_handle, &r, rec_free);
    assert_true(id > 0);
    fixture_run_loop(ev, 20);
    assert_int_equal(r.fired, 0);

    assert_int_equal(write(p[1], "x", 1), 1);
    fixture_run_loop(ev, 20);
    assert_int_equal(r.fired, 1);
    assert_int_equal(r.last_id, id);
    assert_int_equal(r.last_fd, p[0]);   /* libvirt's descriptor, not ours */
    assert_int_equal(r.last_events, VIR_EVENT_HANDLE_READABLE);

    /* No events wanted: silent, even readable. */
    virEventUpdateHandle(id, 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    fixture_run_loop(ev, 20);
    assert_int_equal(r.fired, 1);
    virEventUpdateHandle(id, VIR_EVENT_HANDLE_READABLE);
    fixture_run_loop(ev, 20);
    assert_int_equal(r.fired, 2);

    /* A hangup is reported though not asked for, as poll() does; the
     * callback removes its own watch: ff after, never inside. */
    close(p[1]);
    r.remove_id = id;
    fixture_run_loop(ev, 20);
    assert_int_equal(r.fired, 3);
    assert_true(r.last_events & VIR_EVENT_HANDLE_HANGUP);
    assert_int_equal(r.freed, 1);
    assert_false(r.freed_in_remove);
    assert_int_equal(virEventRemoveHandle(id), -1);
    close(p[0]);
}

/* From another thread, as libvirt's RPC client does. */
struct remote {
    int pipe_rd;
    struct rec *timer_rec, *handle_rec;
    int timer, watch;
};

static void *remote_add(void *arg)
{
    struct remote *rm = arg;

    rm->timer = virEventAddTimeout(10, rec_timer, rm->timer_rec, rec_free);
    rm->watch = virEventAddHandle(rm->pipe_rd, VIR_EVENT_HANDLE_READABLE, rec_handle,
                                  rm->handle_rec, rec_free);
    return NULL;
}

static void *remote_remove(void *arg)
{
    struct remote *rm = arg;

    virEventUpdateHandle(rm->watch, 0);
    assert_int_equal(virEventRemoveTimeout(rm->timer), 0);
    assert_int_equal(virEventRemoveHandle(rm->watch), 0);
    return NULL;
}

static void test_other_thread(void **state)
{
    struct rec tr = {0}, hr = {0};
    int p[2];
    pthread_t t;

    assert_int_equal(pipe(p), 0);
    struct remote rm = {.pipe_rd = p[0], .timer_rec = &tr, .handle_rec = &hr};
    assert_int_equal(pthread_create(&t, NULL, remote_add, &rm), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    /* Ids at once, before the loop has run. */
    assert_true(rm.timer > 0 && rm.watch > 0);

    assert_int_equal(write(p[1], "x", 1), 1);
    fixture_run_loop(ev, 55);
    assert_in_range(tr.fired, 3, 5);
    assert_int_equal(hr.fired, 1);
    assert_false(tr.off_loop || hr.off_loop);

    assert_int_equal(pthread_create(&t, NULL, remote_remove, &rm), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    /* Removed, but the loop has not run: no ff yet, and none on that thread. */
    assert_int_equal(tr.freed + hr.freed, 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    int fired = tr.fired + hr.fired;
    fixture_run_loop(ev, 30);
    assert_int_equal(tr.fired + hr.fired, fired);
    assert_int_equal(tr.freed, 1);
    assert_int_equal(hr.freed, 1);
    assert_false(tr.freed_off_loop || hr.freed_off_loop);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_timer_periodic),
        cmocka_unit_test(test_timer_zero_and_disabled),
        cmocka_unit_test(test_handle),
        cmocka_unit_test(test_other_thread),
    };
    return cmocka_run_group_tests_name("lv_loop", tests, group_setup, group_teardown);
}
