/* scenario.h: the built-in scenario library (balloond-sim --list), and
 * setups from a CSV trace. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "runner.h"

struct scenario_opts {
    size_t n_vms;           /* 0: the scenario's own */
    uint64_t duration_s;    /* 0: the scenario's own */
    uint64_t qemu_overhead_bytes; /* 0: the default (sim_setup_new); the budgets follow it */
};

struct scenario_info {
    const char *name;
    const char *desc;
};
const struct scenario_info *scenario_list(size_t *n);

/* 0, -ENOENT for an unknown name, -ENOMEM. */
int scenario_build(const char *name, const struct scenario_opts *o, struct sim_setup **out);

/* The density benchmark (bench/density.sh): its four VMs, their memload
 * schedules, the budget. ready_s[i] is when VM i's memload started (its
 * boot took that long); NULL: as measured in a typical run. */
#define DENSITY_VMS 4
extern const char *const density_vm_names[DENSITY_VMS];
extern const char *const density_schedules[DENSITY_VMS];
int scenario_density(const double *ready_s, uint64_t budget_bytes, uint64_t duration_s,
                     struct sim_setup **out);

/* A trace: every VM of size vm_size_bytes in a budget of budget_bytes (0:
 * half of what the VMs are configured with, plus QEMU's overheads: a 2x
 * overcommit); o's overhead and duration as in scenario_build. Takes the
 * trace. */
int scenario_from_trace(struct trace *t, uint64_t vm_size_bytes, uint64_t budget_bytes,
                        const struct scenario_opts *o, struct sim_setup **out);
