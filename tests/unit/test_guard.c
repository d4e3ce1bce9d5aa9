/* Guest protection: reboots, self-deflation, stalls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "guard.h"

#define M(x) ((uint64_t)(x) << 20)
#define T0 1000000

/* BASE: a running 4 GiB VM on its 512 MiB target for a minute; a case
 * overrides fields. */
#pragma GCC diagnostic ignored "-Woverride-init"
#define BASE(...)                                                                          \
    {.now_ms = T0, .running = true, .min_bytes = M(256), .max_bytes = M(4096),             \
     .deadband_bytes = M(16), .target_bytes = M(512), .target_set_ms = T0 - 60000,         \
     .actual_bytes = M(512), .prev_actual_bytes = M(512), .actual_moved_ms = T0 - 60000, \
     __VA_ARGS__}

static void test_cases(void **state)
{
    static const struct {
        const char *what;
        struct guard_in in;
        enum guard_action want;
        uint64_t want_target_mib;
    } cases[] = {
        {"on target: nothing", BASE(), GUARD_NONE, 0},
        {"reset of a squeezed guest: 1 GiB", BASE(.reset_seen = true), GUARD_RESET, 1024},
        {"reset of a small VM: its max", BASE(.reset_seen = true, .max_bytes = M(768)), GUARD_RESET, 768},
        {"reset with min above 1 GiB: min", BASE(.reset_seen = true, .min_bytes = M(2048)), GUARD_RESET, 2048},
        {"reset of a guest already big enough", BASE(.reset_seen = true, .target_bytes = M(2048)), GUARD_NONE, 0},
        {"deflate-on-oom: the guest took memory back",
         BASE(.deflate_on_oom = true, .actual_bytes = M(700), .actual_moved_ms = T0), GUARD_SELF_DEFLATE, 700},
        {"same rise without deflate-on-oom: not (yet) a stall",
         BASE(.actual_bytes = M(700), .actual_moved_ms = T0), GUARD_NONE, 0},
        {"stall: 10 s above target, not moving",
         BASE(.target_bytes = M(300), .target_set_ms = T0 - GUARD_STALL_MS,
              .actual_moved_ms = T0 - GUARD_STALL_MS), GUARD_STALL, 512},
        {"no stall while still moving",
         BASE(.target_bytes = M(300), .target_set_ms = T0 - GUARD_STALL_MS, .actual_moved_ms = T0 - 1000),
         GUARD_NONE, 0},
        {"no stall right after a new target", BASE(.target_bytes = M(300), .target_set_ms = T0 - 2000),
         GUARD_NONE, 0},
        {"no stall while paused or migrating", BASE(.target_bytes = M(300), .running = false), GUARD_NONE, 0},
        {"no stall within the dead band", BASE(.target_bytes = M(500)), GUARD_NONE, 0},
        {"pinned: a pin not reached stalls like any target",
         BASE(.pinned = true, .target_bytes = M(300), .target_set_ms = T0 - GUARD_STALL_MS,
              .actual_moved_ms = T0 - GUARD_STALL_MS), GUARD_STALL, 512},
        {"pinned: a reset keeps the operator's pin", BASE(.pinned = true, .reset_seen = true), GUARD_NONE, 0},
        {"pinned: a self-deflation keeps the pin",
         BASE(.pinned = true, .deflate_on_oom = true, .actual_bytes = M(700), .actual_moved_ms = T0),
         GUARD_NONE, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t t = 0;
        enum guard_action a = guard_check(&cases[i].in, &t);
        print_message("  %-52s -> %s\n", cases[i].what, guard_action_str(a));
        assert_int_equal(a, cases[i].want);
        if (a != GUARD_NONE)
            assert_int_equal(t, M(cases[i].want_target_mib));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_cases)};
    return cmocka_run_group_tests_name("guard", tests, NULL, NULL);
}
