/* lv.c: the libvirt backend's connection (see lv.h): open and reopen,
 * domain events, the bulk stats. */
#include "lv_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lv_loop.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
/* libvirtd silent for interval * (count + 1) s: the connection is dead. */
#define KEEPALIVE_INTERVAL_S 5
#define KEEPALIVE_COUNT 3
/* A call running this long is worth a word in the log. */
#define BUSY_LOG_MS 5000

const char *lv_error(void)
{
    const char *m = virGetLastErrorMessage();

    return m ? m : "unknown libvirt error";
}

struct session *lv_find(struct lv *lv, const char *name)
{
    for (size_t i = 0; i < lv->n_sessions; i++)
        if (strcmp(lv->sessions[i]->name, name) == 0)
            return lv->sessions[i];
    return NULL;
}

/* libvirt's own messages go to our log, not to stderr. */
static void on_libvirt_error(void *userdata, virErrorPtr err)
{
    (void)userdata;
    (void)err; /* each caller reports the error it got, with its subject */
}

/* ---- domain events (the loop thread) ------------------------------------ */

static int on_lifecycle(virConnectPtr c, virDomainPtr dom, int event, int detail, void *opaque)
{
    struct lv *lv = opaque;
    const char *name = virDomainGetName(dom);
    struct session *s = name ? lv_find(lv, name) : NULL;

    if (!name)
        return 0;
    if (event == VIR_DOMAIN_EVENT_STARTED) {
        if (s) /* a new QEMU under a known name: start over */
            lv->host.gone(lv->host.ctx, name, "restarted");
        lv->host.found(lv->host.ctx, name);
    } else if (event == VIR_DOMAIN_EVENT_STOPPED && s) {
        lv->host.gone(lv->host.ctx, name, detail == VIR_DOMAIN_EVENT_STOPPED_MIGRATED
                                              ? "migrated away; no longer managed"
                                              : "domain stopped; no longer managed");
    } else if (s) {
        lv_vm_on_lifecycle(s, event, detail);
    }
    return 0;
}

static int on_reboot(virConnectPtr c, virDomainPtr dom, void *opaque)
{
    const char *name = virDomainGetName(dom);
    struct session *s = name ? lv_find(opaque, name) : NULL;

    if (s)
        lv_vm_on_reboot(s);
    return 0;
}

static int on_balloon(virConnectPtr c, virDomainPtr dom, unsigned long long actual, void *opaque)
{
    const char *name = virDomainGetName(dom);
    struct session *s = name ? lv_find(opaque, name) : NULL;

    if (s)
        lv_vm_on_balloon(s, actual);
    return 0;
}

static int on_migration(virConnectPtr c, virDomainPtr dom, int iteration, void *opaque)
{
    const char *name = virDomainGetName(dom);
    struct session *s = name ? lv_find(opaque, name) : NULL;

    if (s)
        lv_vm_on_migration(s, false);
    return 0;
}

static int on_job_completed(virConnectPtr c, virDomainPtr dom, virTypedParameterPtr p, int n, void *opaque)
{
    const char *name = virDomainGetName(dom);
    struct session *s = name ? lv_find(opaque, name) : NULL;

    if (s)
        lv_vm_on_migration(s, true);
    return 0;
}

/* The guest plugged or unplugged virtio-mem blocks (libvirt 7.9+). */
static void on_vmem_size(virConnectPtr c, virDomainPtr dom, const char *alias, unsigned long long size_kib,
                         void *opaque)
{
    const char *name = virDomainGetName(dom);
    struct session *s = name ? lv_find(opaque, name) : NULL;

    if (s && alias)
        lv_vmem_on_size(s, alias, size_kib);
}

/* Any thread: libvirt closes the connection from whichever thread saw it die. */
static void on_close(virConnectPtr c, int reason, void *opaque)
{
    struct lv *lv = opaque;

    atomic_store(&lv->closed, true);
}

/* ---- open (on the worker) ----------------------------------------------- */

struct open_job {
    struct lv *lv;
    char *uri;
    virConnectPtr conn;
    int ids[6];
    char **names;
    size_t n_names;
    char error[200];
};

static void open_register(struct open_job *j)
{
    static const struct {
        int id;
        virConnectDomainEventGenericCallback cb;
    } events[] = {
        {VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle)},
        {VIR_DOMAIN_EVENT_ID_REBOOT, VIR_DOMAIN_EVENT_CALLBACK(on_reboot)},
        {VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE, VIR_DOMAIN_EVENT_CALLBACK(on_balloon)},
        {VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION, VIR_DOMAIN_EVENT_CALLBACK(on_migration)},
        {VIR_DOMAIN_EVENT_ID_JOB_COMPLETED, VIR_DOMAIN_EVENT_CALLBACK(on_job_completed)},
        {VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE, VIR_DOMAIN_EVENT_CALLBACK(on_vmem_size)},
    };

    for (size_t i = 0; i < ARRAY_SIZE(events); i++)
        j->ids[i] = virConnectDomainEventRegisterAny(j->conn, NULL, events[i].id, events[i].cb, j->lv, NULL);
}

static void open_run(void *arg)
{
    struct open_job *j = arg;
    virDomainPtr *doms = NULL;
    int n;

    j->conn = virConnectOpen(j->uri);
    if (!j->conn) {
        snprintf(j->error, sizeof(j->error), "%s", lv_error());
        return;
    }
    if (virConnectRegisterCloseCallback(j->conn, on_close, j->lv, NULL) < 0 ||
        virConnectSetKeepAlive(j->conn, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT) < 0)
        log_warn("libvirt %s: %s (a dead libvirtd may go unnoticed)", j->uri, lv_error());
    open_register(j);
    n = virConnectListAllDomains(j->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    if (n < 0) {
        snprintf(j->error, sizeof(j->error), "cannot list domains: %s", lv_error());
        return;
    }
    j->names = calloc((size_t)n + 1, sizeof(*j->names));
    for (int i = 0; i < n; i++) {
        const char *name = virDomainGetName(doms[i]);
        if (j->names && name && (j->names[j->n_names] = strdup(name)))
            j->n_names++;
        virDomainFree(doms[i]);
    }
    free(doms);
}

static void close_run(void *arg)
{
    virConnectPtr conn = arg;

    virConnectUnregisterCloseCallback(conn, on_close);
    virConnectClose(conn);
}

static void lv_schedule_retry(struct lv *lv)
{
    lv->state = LV_DOWN;
    lv->backoff_ms = lv->backoff_ms ? min_u64(lv->backoff_ms * 2, BACKOFF_MAX_MS) : BACKOFF_MIN_MS;
    lv->retry_at_ms = now_ms() + lv->backoff_ms;
}

static void open_failed(struct lv *lv, struct open_job *j)
{
    if (strcmp(lv->last_error, j->error) != 0)
        log_err("libvirt %s: cannot connect: %s; retrying", lv->uri, j->error);
    snprintf(lv->last_error, sizeof(lv->last_error), "%s", j->error);
    if (j->conn && lv_worker_submit(lv->w, close_run, NULL, j->conn) < 0)
        log_warn("libvirt %s: a failed connection is left open", lv->uri);
    for (size_t i = 0; i < lv->n_sessions; i++)
        lv_vm_lost(lv->sessions[i], "not connected: libvirtd does not answer");
    lv_schedule_retry(lv);
}

/* The domains running now: new ones are attached, sessions whose domain
 * is gone are detached, the rest set up again. */
static void open_reconcile(struct lv *lv, struct open_job *j, uint64_t opened_ms)
{
    for (size_t i = lv->n_sessions; i-- > 0;) {
        struct session *s = lv->sessions[i];
        bool running = false;
        for (size_t k = 0; k < j->n_names && !running; k++)
            running = strcmp(j->names[k], s->name) == 0;
        if (running)
            lv_vm_setup(s);
        else if (s->attached_ms <= opened_ms)
            lv->host.gone(lv->host.ctx, s->name, "no longer running after a reconnect; no longer managed");
    }
    for (size_t k = 0; k < j->n_names; k++)
        if (!lv_find(lv, j->names[k]))
            lv->host.found(lv->host.ctx, j->names[k]);
}

static void open_done(void *arg)
{
    struct open_job *j = arg;
    struct lv *lv = j->lv;

    if (j->error[0]) {
        open_failed(lv, j);
    } else {
        lv->conn = j->conn;
        memcpy(lv->event_ids, j->ids, sizeof(lv->event_ids));
        lv->state = LV_UP;
        lv->backoff_ms = 0;
        lv->last_error[0] = '\0';
        log_info("libvirt %s: connected; %zu domains running", lv->uri, j->n_names);
        open_reconcile(lv, j, now_ms());
    }
    for (size_t k = 0; k < j->n_names; k++)
        free(j->names[k]);
    free(j->names);
    free(j->uri);
    free(j);
}

static void lv_open(struct lv *lv)
{
    struct open_job *j = calloc(1, sizeof(*j));

    atomic_store(&lv->closed, false);
    if (!j || !(j->uri = strdup(lv->uri)) || (j->lv = lv, lv_worker_submit(lv->w, open_run, open_done, j) < 0)) {
        if (j)
            free(j->uri);
        free(j);
        lv_schedule_retry(lv);
        return;
    }
    lv->state = LV_OPENING;
}

/* ---- the bulk stats ------------------------------------------------------ */

struct stats_job {
    struct lv *lv;
    virConnectPtr conn;
    uint64_t asked_ms;
    uint64_t round;           /* the manager's tick round (lv_tick) */
    struct lv_dom_stats *recs;
    size_t n;
    char error[200];
};

static void stats_run(void *arg)
{
    struct stats_job *j = arg;
    virDomainStatsRecordPtr *recs = NULL;
    int n = virConnectGetAllDomainStats(j->conn, VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_BALLOON, &recs,
                                        VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE);

    if (n < 0) {
        snprintf(j->error, sizeof(j->error), "%s", lv_error());
        return;
    }
    j->recs = calloc((size_t)n + 1, sizeof(*j->recs));
    for (int i = 0; j->recs && i < n; i++)
        lv_stats_read(virDomainGetName(recs[i]->dom), recs[i]->params, recs[i]->nparams, &j->recs[j->n++]);
    virDomainStatsRecordListFree(recs);
}

static void stats_dispatch(struct lv *lv, struct stats_job *j)
{
    uint64_t now = now_ms();

    for (size_t i = 0; i < j->n; i++) {
        struct session *s = lv_find(lv, j->recs[i].name);
        if (s)
            lv_vm_on_stats(s, &j->recs[i], now);
        else if (j->recs[i].name[0])
            lv->host.found(lv->host.ctx, j->recs[i].name); /* an event missed */
    }
    for (size_t k = lv->n_sessions; k-- > 0;) {
        struct session *s = lv->sessions[k];
        bool listed = false;
        for (size_t i = 0; i < j->n && !listed; i++)
            listed = strcmp(j->recs[i].name, s->name) == 0;
        if (!listed && s->attached_ms < j->asked_ms)
            lv->host.gone(lv->host.ctx, s->name, "no longer running; no longer managed");
    }
}

static void stats_done(void *arg)
{
    struct stats_job *j = arg;
    struct lv *lv = j->lv;

    lv->stats_inflight = false;
    if (j->error[0])
        log_limited(&lv->rl, LOG_WARNING, "libvirt %s: domain stats: %s", lv->uri, j->error);
    else if (lv->state == LV_UP && j->conn == lv->conn)
        stats_dispatch(lv, j);
    if (j->round && lv->host.answered)
        lv->host.answered(lv->host.ctx, j->round);
    free(j->recs);
    free(j);
}

static bool lv_ask_stats(struct lv *lv, uint64_t round)
{
    struct stats_job *j = calloc(1, sizeof(*j));

    if (!j)
        return false;
    *j = (struct stats_job){.lv = lv, .conn = lv->conn, .asked_ms = now_ms(), .round = round};
    if (lv_worker_submit(lv->w, stats_run, stats_done, j) < 0) {
        free(j);
        return false;
    }
    lv->stats_inflight = true;
    return true;
}

/* ---- life ---------------------------------------------------------------- */

static void lv_lost(struct lv *lv)
{
    log_warn("libvirt %s: connection lost; reconnecting", lv->uri);
    if (lv_worker_submit(lv->w, close_run, NULL, lv->conn) < 0)
        log_warn("libvirt %s: the lost connection is left open", lv->uri);
    lv->conn = NULL;
    for (size_t i = 0; i < lv->n_sessions; i++)
        lv_vm_lost(lv->sessions[i], "not connected: the connection to libvirtd was lost");
    lv_schedule_retry(lv);
}

bool lv_tick(struct lv *lv, uint64_t round)
{
    uint64_t now = now_ms(), busy = lv_worker_busy_ms(lv->w, now);

    if (busy >= BUSY_LOG_MS && !lv->busy_logged) {
        log_warn("libvirt %s: libvirtd has not answered for %llu s; libvirt domains' targets are held",
                 lv->uri, (unsigned long long)(busy / 1000));
        lv->busy_logged = true;
    } else if (busy == 0 && lv->busy_logged) {
        log_info("libvirt %s: libvirtd answers again", lv->uri);
        lv->busy_logged = false;
    }
    if (lv->state == LV_UP && atomic_load(&lv->closed))
        lv_lost(lv);
    if (lv->state == LV_DOWN && now >= lv->retry_at_ms)
        lv_open(lv);
    return lv->state == LV_UP && !lv->stats_inflight && lv_ask_stats(lv, round);
}

int lv_new(sd_event *ev, const char *uri, const struct lv_host *host, struct lv **out)
{
    static bool registered;
    struct lv *lv;
    int r;

    if (!registered) {
        r = lv_loop_register(ev);
        if (r < 0 && r != -EALREADY)
            return r;
        registered = true;
        virSetErrorFunc(NULL, on_libvirt_error);
    }
    lv = calloc(1, sizeof(*lv));
    if (!lv || !(lv->uri = strdup(uri))) {
        free(lv);
        return -ENOMEM;
    }
    lv->ev = sd_event_ref(ev);
    lv->host = *host;
    lv->rl = (struct ratelimit){.interval_ms = 60000, .burst = 5};
    r = lv_worker_new(ev, &lv->w);
    if (r < 0) {
        lv_free(lv);
        return r;
    }
    lv_open(lv);
    *out = lv;
    return 0;
}

static void unregister_run(void *arg)
{
    struct lv *lv = arg;

    for (size_t i = 0; i < ARRAY_SIZE(lv->event_ids); i++)
        if (lv->event_ids[i] >= 0)
            virConnectDomainEventDeregisterAny(lv->conn, lv->event_ids[i]);
    close_run(lv->conn);
}

void lv_free(struct lv *lv)
{
    if (!lv)
        return;
    if (lv->w && lv->conn)
        lv_worker_submit(lv->w, unregister_run, NULL, lv);
    /* A worker stuck in an RPC may still read lv: it is left behind with it. */
    if (!lv_worker_free(lv->w))
        return;
    sd_event_unref(lv->ev);
    free(lv->sessions);
    free(lv->uri);
    free(lv);
}
