/* tune.c: the reclaim cascade (see tune.h). */
#include "tune.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compress.h"
#include "events.h"
#include "ksm.h"
#include "util.h"

struct tune {
    bool enabled;
    struct events *events;
    char *proc_root;
    uint64_t page_bytes;

    struct ksm *ksm;
    bool have_prev, have_cur;
    struct ksm_counters prev, cur;
    uint64_t prev_ms;
    struct ksm_decision last;
    bool ksm_failed;             /* logged once */

    struct compress *comp;
    bool have_cstats;
    struct compress_stats cstats;
    const char *comp_why;        /* the last compression action */
};

static void tune_open_compress(struct tune *t, const char *sys_root, const char *proc_root,
                               const struct conf_host *c)
{
    struct compress_conf cc = {
        .zswap = c->zswap,
        .zswap_compressor = c->zswap_compressor,
        .zswap_max_pool_pct = c->zswap_max_pool_pct,
        .zram_bytes = c->zram_bytes,
        .zram_algorithm = c->zram_algorithm,
    };
    int r = compress_new(sys_root, proc_root, "/dev", &cc, &t->comp);

    if (r < 0)
        log_warn("compression: not managed: %s", strerror(-r));
}

int tune_new(const char *sys_root, const char *proc_root, const struct conf_host *c, bool enabled,
             struct events *ev, struct tune **out)
{
    struct tune *t = calloc(1, sizeof(*t));
    long page = sysconf(_SC_PAGESIZE);
    int r;

    if (!t || !(t->proc_root = strdup(proc_root))) {
        free(t);
        return -ENOMEM;
    }
    t->enabled = enabled;
    t->events = ev;
    t->page_bytes = page > 0 ? (uint64_t)page : 4096;
    if (!enabled) {
        log_info("host tuning off: KSM, zswap and zram are left alone");
        *out = t;
        return 0;
    }
    if (c->ksm) {
        r = ksm_new(sys_root, proc_root, &t->ksm);
        if (r < 0)
            log_warn("ksm: not managed: %s", r == -ENOENT ? "this kernel has no KSM" : strerror(-r));
    }
    tune_open_compress(t, sys_root, proc_root, c);
    *out = t;
    return 0;
}

void tune_restore(struct tune *t)
{
    if (!t || !t->enabled)
        return;
    if (t->ksm && ksm_restore(t->ksm) == 0)
        log_info("ksm: host settings restored");
    if (t->comp && compress_restore(t->comp) == 0)
        log_info("compression: host settings restored");
}

void tune_free(struct tune *t)
{
    if (!t)
        return;
    tune_restore(t);
    ksm_free(t->ksm);
    compress_free(t->comp);
    free(t->proc_root);
    free(t);
}

static void tune_ksm(struct tune *t, const struct host_estimate *he, uint64_t now_ms)
{
    struct ksm_decision d;
    struct ksm_input in;

    if (ksm_sample(t->ksm, &t->cur) < 0) {
        if (!t->ksm_failed)
            log_warn("ksm: cannot read its counters; KSM left as it is");
        t->ksm_failed = true;
        t->have_cur = false;
        return;
    }
    t->ksm_failed = false;
    t->have_cur = true;
    in = (struct ksm_input){
        .state = he->state,
        .prev = t->have_prev ? &t->prev : NULL,
        .cur = &t->cur,
        .interval_ms = t->have_prev ? now_ms - t->prev_ms : 0,
        .page_bytes = t->page_bytes,
        .free_bytes = he->headroom_bytes > 0 ? (uint64_t)he->headroom_bytes : 0,
        .reclaim_bytes = he->reclaim_bytes,
        .has_advisor = t->cur.advisor != KSM_ADVISOR_ABSENT,
        .last_mode = t->last.mode,
    };
    ksm_decide(&in, &d);
    if (d.mode != t->last.mode)
        events_add(t->events, LOG_NOTICE, NULL, "ksm: %s -> %s: %s (pages_to_scan %llu, sleep %llu ms%s)",
                   ksm_mode_str(t->last.mode), ksm_mode_str(d.mode), d.reason,
                   (unsigned long long)d.pages_to_scan, (unsigned long long)d.sleep_ms,
                   d.use_advisor ? ", kernel advisor" : "");
    if (ksm_apply(t->ksm, &d) < 0)
        d.mode = t->last.mode; /* logged by ksm_apply; try again next tick */
    t->last = d;
    if (!d.keep_prev || !t->have_prev) {
        t->prev = t->cur;
        t->prev_ms = now_ms;
        t->have_prev = true;
    }
}

static void tune_compress(struct tune *t, const struct host_estimate *he)
{
    struct compress_input in;
    struct compress_decision d;

    if (compress_observe(t->comp, he->state, &in) < 0)
        return;
    compress_decide(&in, &d);
    if (d.zswap != COMPRESS_ZSWAP_NONE || d.zram_create_bytes) {
        events_add(t->events, LOG_NOTICE, NULL, "compression: %s", d.why);
        t->comp_why = d.why;
        compress_apply(t->comp, &d); /* logs its own failures */
    }
    t->have_cstats = compress_sample(t->comp, &t->cstats) == 0;
}

void tune_tick(struct tune *t, const struct host_estimate *he, uint64_t now_ms)
{
    if (!t->enabled)
        return;
    if (t->ksm)
        tune_ksm(t, he, now_ms);
    if (t->comp)
        tune_compress(t, he);
}

int tune_vm_ksm(const struct tune *t, pid_t pid, uint64_t *saved_bytes)
{
    uint64_t pages;
    int64_t profit;
    int r;

    if (!t->ksm || pid <= 0)
        return -ENOENT;
    r = ksm_proc_savings(t->proc_root, pid, &pages, &profit);
    if (r < 0)
        return r;
    *saved_bytes = pages * t->page_bytes;
    return 0;
}

void tune_report(const struct tune *t, json_object *host)
{
    json_object *k = json_object_new_object(), *c = json_object_new_object();

    json_object_object_add(k, "managed", json_object_new_boolean(t->enabled && t->ksm));
    if (t->have_cur) {
        json_object_object_add(k, "mode", json_object_new_string(ksm_mode_str(t->last.mode)));
        json_object_object_add(k, "reason", json_object_new_string(t->last.reason ? t->last.reason : ""));
        json_object_object_add(k, "run", json_object_new_int((int)t->cur.run));
        json_object_object_add(k, "pages_to_scan", json_object_new_uint64(t->cur.pages_to_scan));
        json_object_object_add(k, "sleep_ms", json_object_new_uint64(t->cur.sleep_ms));
        json_object_object_add(k, "pages_sharing", json_object_new_uint64(t->cur.pages_sharing));
        json_object_object_add(k, "saved_bytes", json_object_new_uint64(t->cur.pages_sharing * t->page_bytes));
        if (t->cur.has_general_profit)
            json_object_object_add(k, "profit_bytes", json_object_new_int64(t->cur.general_profit_bytes));
        if (t->cur.has_ksmd_cpu)
            json_object_object_add(k, "ksmd_cpu_ms_total", json_object_new_uint64(t->cur.ksmd_cpu_ms));
        if (t->last.yield_known)
            json_object_object_add(k, "yield_pages_per_cpu_s", json_object_new_uint64(t->last.yield_pages_per_cpu_s));
    }
    json_object_object_add(c, "managed", json_object_new_boolean(t->enabled && t->comp));
    if (t->have_cstats) {
        const struct compress_stats *s = &t->cstats;
        json_object_object_add(c, "zswap_enabled", json_object_new_boolean(s->zswap_enabled));
        if (s->zswap_known) {
            json_object_object_add(c, "zswap_pool_bytes", json_object_new_uint64(s->zswap_pool_bytes));
            json_object_object_add(c, "zswap_stored_bytes", json_object_new_uint64(s->zswap_stored_bytes));
            json_object_object_add(c, "zswap_ratio", json_object_new_double(s->zswap_ratio));
        }
        if (s->zram_id >= 0) {
            json_object_object_add(c, "zram_device", json_object_new_int(s->zram_id));
            json_object_object_add(c, "zram_disk_bytes", json_object_new_uint64(s->zram_disk_bytes));
            json_object_object_add(c, "zram_used_bytes", json_object_new_uint64(s->zram_used_bytes));
            json_object_object_add(c, "zram_ratio", json_object_new_double(s->zram_ratio));
        }
        json_object_object_add(c, "saved_bytes", json_object_new_uint64(s->saved_bytes));
    }
    if (t->comp_why)
        json_object_object_add(c, "last_action", json_object_new_string(t->comp_why));
    json_object_object_add(host, "ksm", k);
    json_object_object_add(host, "compression", c);
}
