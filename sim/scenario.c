/* scenario.c: see scenario.h. Sizes are the VMs' configured RAM; budgets
 * include QEMU's own memory (72 MiB per VM, as measured), as a budget
 * cgroup's limit does. */
#include "scenario.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define DAY_S 86400
/* The test guest's own use at idle: MemTotal - MemAvailable at boot,
 * 468416 - 437360 KiB (the density run's consoles). */
#define TEST_GUEST_BASE_BYTES (30 * MIB + 336 * KIB)

const char *const density_vm_names[DENSITY_VMS] = {"web", "batch", "cache", "db"};
/* bench/density.sh's LOAD, verbatim. */
const char *const density_schedules[DENSITY_VMS] = {
    "alloc:140M@14M,hold:50s,free:100M,hold:50s,alloc:100M@10M,idle",
    "alloc:80M,hold:40s,alloc:230M@10M,hold:40s,free:230M,idle",
    "alloc:220M@22M,hold:30s,free:180M,hold:70s,alloc:140M@14M,idle",
    "alloc:140M@14M,hold:90s,free:100M,hold:40s,alloc:120M@12M,idle",
};
/* When memload started in the density run kept in sim/validation/density
 * (balloond's; the other policies' runs were within a second of it). */
static const double density_ready_s[DENSITY_VMS] = {8, 10, 9, 10};

static const struct scenario_info scenarios[] = {
    {"density", "bench/density.sh: 4 x 512 MiB TCG guests running memload, 2x overcommitted (1328 MiB)"},
    {"host32-vms64", "a 32 GiB host carrying 64 GiB of VMs: 32 x 2 GiB, web, batch and database mixes, 4 h"},
    {"8g-half-one-12g", "5 x 8 GiB VMs using half, one 16 GiB VM growing to need 12 GiB, on 40 GiB, 2 h"},
    {"diurnal", "1000 VMs of 1-4 GiB following the day in three time zones, 1.7x overcommitted, 24 h"},
    {"bursty", "200 x 1 GiB VMs idling at 200 MiB with random 400 MiB bursts, 2x overcommitted, 6 h"},
    {"boot-storm", "300 x 2 GiB VMs booting within 2 min, then all rebooting within 1 min at 1 h, 2 h"},
};

const struct scenario_info *scenario_list(size_t *n)
{
    *n = ARRAY_SIZE(scenarios);
    return scenarios;
}

static int own_points(struct sim_setup *s, struct wl_point *p)
{
    struct wl_point **a = realloc(s->pts, (s->n_pts + 1) * sizeof(*a));

    if (!a) {
        free(p);
        return -ENOMEM;
    }
    s->pts = a;
    s->pts[s->n_pts++] = p;
    return 0;
}

static void name_vm(struct sim_vm_spec *v, const char *prefix, size_t i, uint64_t size)
{
    char name[32];

    snprintf(name, sizeof(name), "%s%04zu", prefix, i);
    sim_vm_spec_default(v, name, size);
}

int scenario_density(const double *ready_s, uint64_t budget_bytes, uint64_t duration_s,
                     struct sim_setup **out)
{
    struct sim_setup *s = sim_setup_new(DENSITY_VMS);
    double last = 0;

    if (!s)
        return -ENOMEM;
    if (!ready_s)
        ready_s = density_ready_s;
    snprintf(s->name, sizeof(s->name), "density");
    snprintf(s->desc, sizeof(s->desc), "%s", scenarios[0].desc);
    /* bench/density.sh: B = 1024 MiB of guest RAM + 4 x its 76 MiB allowance. */
    s->host.budget_bytes = budget_bytes ? budget_bytes : 1328 * MIB;
    for (size_t i = 0; i < DENSITY_VMS; i++) {
        struct sim_vm_spec *v = &s->vms[i];
        struct wl_point *p;
        const char *why;
        int r;

        sim_vm_spec_default(v, density_vm_names[i], 512 * MIB);
        v->guest.boot_ms = (uint64_t)(ready_s[i] * 1000);
        v->guest.oom_ends_workload = true; /* guest/init does not restart memload */
        v->guest.base_bytes = TEST_GUEST_BASE_BYTES;
        v->wl.kind = WL_PWL;
        v->wl.start_s = (uint64_t)ready_s[i];
        r = workload_memload(density_schedules[i], TEST_GUEST_BASE_BYTES, &p, &v->wl.n_pts,
                             &v->wl.period_ms, &why);
        if (r == 0)
            r = own_points(s, p);
        if (r < 0) {
            sim_setup_free(s);
            return r;
        }
        v->wl.pts = p;
        if (ready_s[i] > last)
            last = ready_s[i];
    }
    /* The benchmark measures LOAD_SECONDS = 170 after the last guest is ready. */
    s->duration_s = duration_s ? duration_s : (uint64_t)last + 170;
    *out = s;
    return 0;
}

/* host32-vms64: web servers on the day, batch jobs in bursts, databases
 * holding a large cache. */
static void mix_vm(struct sim_vm_spec *v, size_t i, uint64_t size)
{
    switch (i % 4) {
    case 0:
    case 1:
        v->wl = (struct workload){.kind = WL_DIURNAL, .base_bytes = size / 8, .amp_bytes = size / 3,
                                  .noise_bytes = size / 32, .cache_bytes = size / 8, .phase = -1};
        break;
    case 2:
        v->wl = (struct workload){.kind = WL_BURSTY, .base_bytes = size / 8, .burst_bytes = size / 3,
                                  .ramp_bytes_per_s = 64 * MIB, .burst_s = 600, .gap_s = 1800,
                                  .cache_bytes = size / 16};
        break;
    default:
        v->wl = (struct workload){.kind = WL_DIURNAL, .base_bytes = size / 4, .amp_bytes = size / 8,
                                  .noise_bytes = size / 64, .cache_bytes = size / 4, .phase = -1};
        break;
    }
    v->wl.start_s = v->start_s + v->guest.boot_ms / 1000;
}

static int build_mix(struct sim_setup *s)
{
    for (size_t i = 0; i < s->n_vms; i++) {
        name_vm(&s->vms[i], "vm", i, 2 * GIB);
        s->vms[i].start_s = i % 8; /* not all in the same second */
        mix_vm(&s->vms[i], i, 2 * GIB);
        s->vms[i].wl.day_s = 4 * 3600; /* a working day in 4 h */
    }
    s->host.budget_bytes = 32 * GIB;
    s->duration_s = 4 * 3600;
    return 0;
}

/* 8g-half-one-12g: the big VM grows from 4 to 12 GiB in 10 min at 10 min,
 * holds 30 min, and gives it back. */
static int build_half(struct sim_setup *s)
{
    static const struct wl_point big[] = {
        {0, 0, GIB}, {600000, 0, GIB}, {1200000, 8 * GIB, GIB}, {3000000, 8 * GIB, GIB},
        {3000000, 0, GIB},
    };
    struct wl_point *p = malloc(sizeof(big));

    if (!p || own_points(s, p) < 0)
        return -ENOMEM;
    memcpy(p, big, sizeof(big));
    for (size_t i = 0; i < s->n_vms; i++) {
        bool is_big = i == s->n_vms - 1;
        struct sim_vm_spec *v = &s->vms[i];
        name_vm(v, is_big ? "big" : "vm", i, is_big ? 16 * GIB : 8 * GIB);
        v->start_s = i;
        v->wl = (struct workload){.kind = is_big ? WL_PWL : WL_DIURNAL, .base_bytes = 4 * GIB,
                                  .noise_bytes = 128 * MIB, .amp_bytes = 0, .cache_bytes = 2 * GIB,
                                  .pts = p, .n_pts = ARRAY_SIZE(big), .phase = 0};
        v->wl.start_s = v->start_s + v->guest.boot_ms / 1000;
    }
    s->host.budget_bytes = 40 * GIB;
    s->duration_s = 2 * 3600;
    return 0;
}

static int build_diurnal(struct sim_setup *s)
{
    static const uint64_t sizes[] = {1 * GIB, 2 * GIB, 2 * GIB, 4 * GIB};
    static const double zones[] = {0.0, 0.33, 0.58}; /* Europe, Asia, America */
    uint64_t configured = 0;

    for (size_t i = 0; i < s->n_vms; i++) {
        uint64_t size = sizes[i % ARRAY_SIZE(sizes)];
        struct sim_vm_spec *v = &s->vms[i];
        name_vm(v, "vm", i, size);
        v->start_s = i % 60;
        v->wl = (struct workload){.kind = WL_DIURNAL, .base_bytes = size / 8, .amp_bytes = size / 3,
                                  .noise_bytes = size / 64, .cache_bytes = size / 8,
                                  .phase = zones[i % ARRAY_SIZE(zones)]};
        v->wl.start_s = v->start_s + v->guest.boot_ms / 1000;
        configured += size;
    }
    s->host.budget_bytes = configured / 10 * 6 + s->n_vms * s->host.qemu_overhead_bytes;
    s->duration_s = DAY_S;
    return 0;
}

static int build_bursty(struct sim_setup *s)
{
    for (size_t i = 0; i < s->n_vms; i++) {
        struct sim_vm_spec *v = &s->vms[i];
        name_vm(v, "vm", i, GIB);
        v->start_s = i % 30;
        v->wl = (struct workload){.kind = WL_BURSTY, .base_bytes = 200 * MIB, .burst_bytes = 400 * MIB,
                                  .ramp_bytes_per_s = 0, .burst_s = 120, .gap_s = 1200,
                                  .cache_bytes = 64 * MIB};
        v->wl.start_s = v->start_s + v->guest.boot_ms / 1000;
    }
    s->host.budget_bytes = s->n_vms * (GIB / 2 + s->host.qemu_overhead_bytes);
    s->duration_s = 6 * 3600;
    return 0;
}

/* boot-storm: after boot, services warm their caches (1 GiB for 5 min),
 * then settle at 512 MiB used and 256 MiB of cache. */
static int build_boot_storm(struct sim_setup *s)
{
    static const struct wl_point warm[] = {
        {0, 256 * MIB, GIB}, {300000, 512 * MIB, GIB}, {420000, 512 * MIB, 256 * MIB},
    };
    struct wl_point *p = malloc(sizeof(warm));

    if (!p || own_points(s, p) < 0)
        return -ENOMEM;
    memcpy(p, warm, sizeof(warm));
    for (size_t i = 0; i < s->n_vms; i++) {
        struct sim_vm_spec *v = &s->vms[i];
        name_vm(v, "vm", i, 2 * GIB);
        v->start_s = i * 120 / s->n_vms;
        v->reset_s = 3600 + i * 60 / s->n_vms;
        v->wl = (struct workload){.kind = WL_PWL, .pts = p, .n_pts = ARRAY_SIZE(warm)};
        v->wl.start_s = v->start_s + v->guest.boot_ms / 1000;
    }
    s->host.budget_bytes = s->n_vms * (GIB + GIB / 4 + s->host.qemu_overhead_bytes);
    s->duration_s = 2 * 3600;
    return 0;
}

static const struct {
    const char *name;
    size_t n_vms;
    int (*build)(struct sim_setup *s);
} builders[] = {
    {"host32-vms64", 32, build_mix},   {"8g-half-one-12g", 6, build_half},
    {"diurnal", 1000, build_diurnal},  {"bursty", 200, build_bursty},
    {"boot-storm", 300, build_boot_storm},
};

/* o's QEMU overhead, before anything computes a budget from it. */
static void overhead_opt(struct sim_setup *s, const struct scenario_opts *o)
{
    if (o->qemu_overhead_bytes)
        s->host.qemu_overhead_bytes = o->qemu_overhead_bytes;
}

int scenario_build(const char *name, const struct scenario_opts *o, struct sim_setup **out)
{
    if (strcmp(name, "density") == 0) {
        int r = scenario_density(NULL, 0, o->duration_s, out);
        /* Its budget is bench/density.sh's cgroup limit, whatever QEMU takes. */
        if (r == 0)
            overhead_opt(*out, o);
        return r;
    }
    for (size_t k = 0; k < ARRAY_SIZE(builders); k++) {
        struct sim_setup *s;
        if (strcmp(name, builders[k].name) != 0)
            continue;
        s = sim_setup_new(o->n_vms ? o->n_vms : builders[k].n_vms);
        if (!s)
            return -ENOMEM;
        snprintf(s->name, sizeof(s->name), "%s", name);
        snprintf(s->desc, sizeof(s->desc), "%s", scenarios[k + 1].desc);
        overhead_opt(s, o);
        if (builders[k].build(s) < 0) {
            sim_setup_free(s);
            return -ENOMEM;
        }
        if (o->duration_s)
            s->duration_s = o->duration_s;
        *out = s;
        return 0;
    }
    return -ENOENT;
}

int scenario_from_trace(struct trace *t, uint64_t vm_size_bytes, uint64_t budget_bytes,
                        const struct scenario_opts *o, struct sim_setup **out)
{
    struct sim_setup *s = sim_setup_new(t->n_vms);

    if (!s) {
        trace_free(t);
        return -ENOMEM;
    }
    s->trace = t;
    overhead_opt(s, o);
    snprintf(s->name, sizeof(s->name), "trace");
    snprintf(s->desc, sizeof(s->desc), "%zu VMs of %llu MiB from a trace, %llu s", t->n_vms,
             (unsigned long long)(vm_size_bytes >> 20), (unsigned long long)t->end_s);
    for (size_t i = 0; i < t->n_vms; i++) {
        struct sim_vm_spec *v = &s->vms[i];
        sim_vm_spec_default(v, t->vms[i].name, vm_size_bytes);
        /* The VM boots so that its workload starts at its first point. */
        v->start_s = t->vms[i].pts[0].t_s - min_u64(t->vms[i].pts[0].t_s, v->guest.boot_ms / 1000);
        v->wl = (struct workload){.kind = WL_TRACE, .series = &t->vms[i]};
    }
    s->host.budget_bytes = budget_bytes ? budget_bytes
                                        : t->n_vms * (vm_size_bytes / 2 + s->host.qemu_overhead_bytes);
    s->duration_s = o->duration_s ? o->duration_s : t->end_s + 60;
    *out = s;
    return 0;
}
