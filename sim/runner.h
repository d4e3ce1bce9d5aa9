/* runner.h: one simulated run: every second, the guests and the host
 * move, then balloond's own code decides, exactly as src/mgr.c does each
 * tick: estimate_host() on a synthetic host sample, estimate_vm() on a
 * synthetic vm_observed, guard_check(), policy_run(). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "control.h"
#include "estimate.h"
#include "guard.h"
#include "guestmodel.h"
#include "hostmodel.h"
#include "policy.h"
#include "tick.h"
#include "workload.h"

/* A drop of this much anon demand in one second is a "free event" whose
 * reclaim is timed, as the density benchmark times memload's free
 * phases (its smallest is 100 MiB). */
#define SIM_FREE_EVENT_MIN_BYTES (64ULL << 20)

struct sim_vm_spec {
    char name[32];
    struct guest_params guest;
    uint64_t start_s;          /* QEMU starts, the guest boots */
    uint64_t reset_s;          /* the guest reboots then; 0: never */
    uint64_t min_bytes, max_bytes;
    unsigned buffer_pct, shares;
    struct workload wl;
};

struct sim_setup {
    char name[48];
    char desc[200];
    struct hostmodel_params host;
    struct conf_size reserve;  /* of the budget; balloond's default 5% */
    uint64_t step_bytes;
    unsigned idle_tax_pct;
    uint64_t duration_s;
    /* The stats balloond decides on are this old: the guest reports every
     * second and the daemon reads the latest report (sim/README.md). */
    uint64_t stats_lag_s;
    size_t n_vms;
    struct sim_vm_spec *vms;
    /* Owned: freed with the setup. */
    struct trace *trace;
    struct wl_point **pts;
    size_t n_pts;
};

/* An empty setup with balloond's defaults; vms has room for n_vms. */
struct sim_setup *sim_setup_new(size_t n_vms);
void sim_setup_free(struct sim_setup *s);
/* One VM with the daemon's default settings (min 25%, buffer 20%,
 * shares 1000) and the guest model's defaults for its size. */
void sim_vm_spec_default(struct sim_vm_spec *v, const char *name, uint64_t size_bytes);

struct sim_event {
    uint32_t vm;
    uint32_t free_no;          /* 1, 2, ... per VM */
    uint64_t t_free_s;
    uint64_t freed_bytes;
    uint64_t actual_at_free_bytes;
    int64_t t_reclaimed_s;     /* -1: never */
};

struct sim_result {
    enum policy_kind kind;
    uint64_t host_oom_kills, qemus_lost, guest_oom_kills;
    uint64_t pressure_s, low_avail_s;    /* guest-seconds */
    uint64_t peak_bytes, limit_bytes;
    uint64_t changes;                    /* target changes, guard's included */
    uint64_t reclaimed_mib_s;            /* size - actual of running guests, summed per second */
    uint64_t guard[GUARD_ACTION_COUNT];
    struct sim_event *events;
    size_t n_events, cap_events;
};
void sim_result_clear(struct sim_result *r);

/* What the daemon keeps per VM (src/daemon/vm.h's struct vm: its link's observations and its control part), and
 * the model behind it. */
struct sim_vm {
    const struct sim_vm_spec *spec;
    struct workload wl;
    struct guest g;
    uint64_t want_anon, want_cache;
    bool wanted;                    /* the workload has begun */
    struct qmp_guest_stats report;  /* the guest's latest report, not yet read */
    bool have_report;
    /* The daemon's side. */
    struct vm_observed obs;
    struct vm_estimate est;
    bool estimated;                 /* est is from this tick */
    struct control ctl;             /* src/core/control.h, as the daemon's */
    uint32_t n_frees;
    size_t open[4];                 /* free events awaiting reclaim: index + 1 */
};

struct sim {
    const struct sim_setup *setup;
    enum policy_kind kind;
    uint64_t t_s, now_ms, wall_s;
    struct sim_vm *vms;
    struct hostmodel host;
    struct host_estimate he;
    bool have_he;
    struct policy_round round;
    struct sim_result res;
    /* The tick's view of the VMs, and its scratch. */
    struct tick_vm *tv;
    struct tick_scratch scratch;
};

/* Called after every second (for CSV); may be NULL. */
typedef void (*sim_tick_fn)(const struct sim *s, void *userdata);

/* Runs setup under policy kind with the PRNG seed. res is the caller's
 * (sim_result_clear it after). 0 or -ENOMEM. */
int sim_run(const struct sim_setup *setup, enum policy_kind kind, uint64_t seed,
            sim_tick_fn on_tick, void *userdata, struct sim_result *res);
