/* fuzz_state: the state file as the daemon reads it at start (load,
 * targets by name and pid, the operator's settings parsed again as
 * config lines), then written back. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "command.h"
#include "state.h"
#include "util.h"
#include "vm.h"

const char *fuzz_name = "state";

/* tmpfs: the state file is written with fsync on every input. */
static char path[64];

static void cleanup(void)
{
    char bad[80];

    snprintf(bad, sizeof(bad), "%s.bad", path);
    unlink(path);
    unlink(bad);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"s1", "s2", "v1", "", "a b"};
    struct state *st;
    FILE *f;

    if (!path[0]) {
        snprintf(path, sizeof(path), "/dev/shm/balloond-fuzz-state.%d", getpid());
        atexit(cleanup);
        log_setup(LOG_EMERG, false);
    }
    f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    if (state_load(path, &st) < 0)
        return 0;
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        struct vm vm = {.name = (char *)names[i]};
        uint64_t target;
        state_get(st, names[i], 1, &target);
        state_get(st, names[i], 0, &target);
        command_load_settings(st, &vm);
        free(vm.set.over_lines);
    }
    state_set(st, "s1", 2, 512ULL << 20);
    state_save(st);
    state_free(st);
    return 0;
}
