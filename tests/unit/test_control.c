/* One VM's control steps: a stall's hold as the status sees it, a pin
 * under a hold, a guest whose balloon driver never spoke. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "control.h"

#define M(x) ((uint64_t)(x) << 20)
#define T0 1000000

/* A running guest asked for 300 MiB 20 s ago that stays at 512 MiB. */
static void stall(struct control *c, struct vm_observed *o, const struct control_limits *l)
{
    uint64_t target = 0;

    *c = (struct control){.target_set = true, .target_bytes = M(300), .last_change_ms = T0 - 20000,
                          .guard_actual_bytes = M(512)};
    *o = (struct vm_observed){.running = true, .have_actual = true, .actual_bytes = M(512)};
    assert_int_equal(control_guard(c, o, T0 - 20000, l, T0, &target), GUARD_STALL);
    assert_int_equal(target, M(512));
    control_set_target(c, target, T0);
}

/* The guest is on its new target (actual) a tick later: the hold goes on,
 * and so must "stalled", until the hold ends. */
static void test_stalled_while_held(void **state)
{
    struct control_limits l = {.min_bytes = M(128), .max_bytes = M(512), .shares = 1};
    struct vm_observed o;
    struct control c;
    uint64_t target = 0;

    stall(&c, &o, &l);
    for (uint64_t t = T0 + 1000; t < T0 + GUARD_STALL_HOLD_MS; t += 1000) {
        assert_int_equal(control_guard(&c, &o, T0 - 20000, &l, t, &target), GUARD_NONE);
        if (!c.stalled)
            fail_msg("stalled ended %llu ms into a %d ms hold", (unsigned long long)(t - T0),
                     GUARD_STALL_HOLD_MS);
        assert_int_equal(control_hold_left_ms(&c, t), T0 + GUARD_STALL_HOLD_MS - t);
    }
    control_guard(&c, &o, T0 - 20000, &l, T0 + GUARD_STALL_HOLD_MS, &target);
    assert_false(c.stalled);
    assert_int_equal(control_hold_left_ms(&c, T0 + GUARD_STALL_HOLD_MS), 0);
}

/* A pin the guest cannot reach stalls like any target; during the hold it
 * is not sent again, after it it is. A pin above the held size (deflating)
 * is never held back. */
static void test_pin_under_hold(void **state)
{
    struct control_limits l = {.min_bytes = M(128), .max_bytes = M(512), .shares = 1, .pinned = true};
    struct vm_observed o;
    struct control c;

    stall(&c, &o, &l);
    assert_int_equal(control_pin_target(&c, M(300), T0 + 1000), M(512));
    assert_int_equal(control_pin_target(&c, M(300), T0 + GUARD_STALL_HOLD_MS - 1), M(512));
    assert_int_equal(control_pin_target(&c, M(300), T0 + GUARD_STALL_HOLD_MS), M(300));
    c.target_bytes = M(256);
    assert_int_equal(control_pin_target(&c, M(400), T0 + 1000), M(400));
    /* Not stalled: the pin as it is. */
    c = (struct control){.target_set = true, .target_bytes = M(512)};
    assert_int_equal(control_pin_target(&c, M(300), T0), M(300));
}

static void test_no_driver(void **state)
{
    assert_false(control_no_driver(false, T0, T0));
    assert_false(control_no_driver(false, T0, T0 + CONTROL_DRIVER_GRACE_MS - 1));
    assert_true(control_no_driver(false, T0, T0 + CONTROL_DRIVER_GRACE_MS));
    assert_true(control_no_driver(false, T0, T0 + 3600 * 1000));
    assert_false(control_no_driver(true, T0, T0 + 3600 * 1000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stalled_while_held),
        cmocka_unit_test(test_pin_under_hold),
        cmocka_unit_test(test_no_driver),
    };
    return cmocka_run_group_tests_name("control", tests, NULL, NULL);
}
