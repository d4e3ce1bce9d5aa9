/* lv_vm.c: one libvirt domain's session (see lv.h and backend.h): its
 * setup (the XML's facts, stats polling, QEMU's PID), what libvirt
 * reports of it into its link, and its targets. */
#include "lv_priv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "observe.h"

/* How often the guest is asked for stats where balloond turns them on. */
#define LV_STATS_PERIOD_S 1
/* A migration that sent no iteration event for this long is over. */
#define MIGRATION_QUIET_MS 30000
/* Where libvirt's QEMU driver keeps a running domain's PID (privileged). */
#define LV_PID_DIR "/run/libvirt/qemu"

/* ---- QEMU's PID ---------------------------------------------------------- */

static bool pid_is_domain(pid_t pid, const char *name)
{
    char path[64], buf[8192];
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    n = read(fd, buf, sizeof(buf));
    close(fd);
    return n > 0 && lv_cmdline_is_domain(buf, (size_t)n, name);
}

/* No PID file where we look (libvirtd with another state directory, or
 * in a mount namespace of its own): the QEMU whose command line names the
 * domain. One pass over /proc, at setup only. */
static pid_t domain_pid_scan(const char *name)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    pid_t found = 0;

    while (d && !found && (de = readdir(d))) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end == '\0' && pid > 1 && pid_is_domain((pid_t)pid, name))
            found = (pid_t)pid;
    }
    if (d)
        closedir(d);
    return found;
}

/* libvirt's PID file for the domain, checked against the process; else
 * the process found by its command line. */
static pid_t domain_pid(const char *name)
{
    char path[512], buf[32];
    long pid;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "%s/%s.pid", LV_PID_DIR, name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return domain_pid_scan(name);
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    pid = strtol(buf, NULL, 10);
    if (pid > 1 && pid < (1L << 22) && pid_is_domain((pid_t)pid, name))
        return (pid_t)pid;
    return domain_pid_scan(name);
}

/* ---- setup (the worker reads the XML) ------------------------------------ */

struct setup_job {
    struct lv *lv;
    virConnectPtr conn;
    char *name;
    struct lv_xml_facts facts;
    int period_before;           /* -1: left as it was */
    char error[200];
};

static void setup_run(void *arg)
{
    struct setup_job *j = arg;
    virDomainPtr dom = virDomainLookupByName(j->conn, j->name);
    char *xml;

    if (!dom) {
        snprintf(j->error, sizeof(j->error), "%s", lv_error());
        return;
    }
    xml = virDomainGetXMLDesc(dom, 0);
    if (!xml) {
        snprintf(j->error, sizeof(j->error), "cannot read its XML: %s", lv_error());
    } else {
        lv_xml_read(xml, &j->facts);
        free(xml);
        if (!lv_xml_unsuitable(&j->facts) && j->facts.balloon == LV_BALLOON_VIRTIO && j->facts.stats_period == 0) {
            if (virDomainSetMemoryStatsPeriod(dom, LV_STATS_PERIOD_S, VIR_DOMAIN_AFFECT_LIVE) == 0)
                j->period_before = 0;
            else
                snprintf(j->error, sizeof(j->error), "cannot turn balloon stats on: %s", lv_error());
        }
    }
    virDomainFree(dom);
}

static void setup_ready(struct session *s, const struct setup_job *j)
{
    struct vm_link *l = s->link;

    if (j->period_before >= 0)
        s->period_before = j->period_before;
    l->obs.deflate_on_oom = j->facts.deflate_on_oom;
    l->obs.free_page_reporting = j->facts.free_page_reporting;
    l->obs.has_balloon = j->facts.balloon == LV_BALLOON_VIRTIO;
    lv_vmem_setup(s, &j->facts);
    l->pid = domain_pid(s->name);
    if (l->conn != VM_READY)
        l->ready_ms = now_ms();
    l->conn = VM_READY;
    l->last_error[0] = '\0';
    log_info("vm %s: managed (libvirt domain, pid %d%s%s%s)", s->name, (int)l->pid,
             j->period_before >= 0 ? ", balloon stats turned on" : "", s->vmem ? ", virtio-mem " : "",
             s->vmem ? s->vmem->alias : "");
    lv_vmem_observe(s);
}

static void setup_done(void *arg)
{
    struct setup_job *j = arg;
    struct session *s = lv_find(j->lv, j->name);
    const char *unsuitable = lv_xml_unsuitable(&j->facts);

    if (s && j->conn == j->lv->conn) {
        s->setup_inflight = false;
        if (j->error[0]) {
            log_limited(&j->lv->rl, LOG_WARNING, "vm %s: libvirt: %s", s->name, j->error);
            snprintf(s->link->last_error, sizeof(s->link->last_error), "libvirt: %.140s", j->error);
            s->link->conn = VM_RETRY;
        } else if (unsuitable) {
            if (strcmp(s->link->last_error, unsuitable) != 0)
                log_warn("vm %s: %s; left alone", s->name, unsuitable);
            snprintf(s->link->last_error, sizeof(s->link->last_error), "%s", unsuitable);
            s->link->conn = VM_NO_BALLOON;
        } else {
            setup_ready(s, j);
        }
    }
    free(j->name);
    free(j);
}

void lv_vm_setup(struct session *s)
{
    struct setup_job *j;

    if (s->setup_inflight || s->lv->state != LV_UP)
        return;
    j = calloc(1, sizeof(*j));
    if (!j || !(j->name = strdup(s->name))) {
        free(j);
        return;
    }
    j->lv = s->lv;
    j->conn = s->lv->conn;
    j->period_before = -1;
    if (lv_worker_submit(s->lv->w, setup_run, setup_done, j) < 0) {
        free(j->name);
        free(j);
        return;
    }
    s->setup_inflight = true;
}

/* ---- what libvirt reports ------------------------------------------------- */

static void set_runstate(struct session *s, const char *state)
{
    snprintf(s->link->runstate, sizeof(s->link->runstate), "%s", state);
}

void lv_vm_on_stats(struct session *s, const struct lv_dom_stats *st, uint64_t now)
{
    struct vm_link *l = s->link;

    if (st->bad[0] && !s->logged_bad)
        log_warn("vm %s: libvirt reported %s; that value is ignored", s->name, st->bad);
    s->logged_bad = s->logged_bad || st->bad[0];
    if (s->migrating && now - s->migrating_ms > MIGRATION_QUIET_MS)
        s->migrating = false;
    set_runstate(s, s->migrating ? "migrating" : lv_state_str(st->state, st->reason));
    l->obs.running = !s->migrating && st->state == VIR_DOMAIN_RUNNING;
    /* With virtio-mem the size is base + its max-size (lv_vmem_setup). */
    if (st->have_maximum && !l->obs.vmem.present) {
        l->size_bytes = st->maximum_bytes;
        l->obs.size_bytes = st->maximum_bytes;
    }
    if (l->conn != VM_READY)
        return;
    /* Without a balloon, libvirt's balloon.current is the whole memory. */
    if (st->have_current && l->obs.has_balloon) {
        s->balloon_bytes = lv_vmem_balloon_share(s, st->current_bytes);
        s->have_balloon_bytes = true;
    }
    if (st->have_current || l->obs.vmem.present)
        lv_vmem_observe(s);
    observe_stats(&l->obs, &st->guest, now, wall_now_s());
}

void lv_vm_lost(struct session *s, const char *why)
{
    s->link->conn = VM_RETRY;
    s->setup_inflight = false;
    s->set_inflight = false;
    s->have_balloon_bytes = false;
    s->vmem_refresh_inflight = false;
    snprintf(s->link->last_error, sizeof(s->link->last_error), "%s", why);
    set_runstate(s, "disconnected");
    observe_lost(&s->link->obs);
}

void lv_vm_on_lifecycle(struct session *s, int event, int detail)
{
    switch (event) {
    case VIR_DOMAIN_EVENT_SUSPENDED:
        set_runstate(s, detail == VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED ||
                                detail == VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY
                            ? "migrating"
                            : "paused");
        s->link->obs.running = false;
        break;
    case VIR_DOMAIN_EVENT_RESUMED:
        s->migrating = false;
        set_runstate(s, "running");
        s->link->obs.running = true;
        break;
    case VIR_DOMAIN_EVENT_SHUTDOWN:
        set_runstate(s, "shutdown");
        s->link->obs.running = false;
        break;
    case VIR_DOMAIN_EVENT_CRASHED:
        set_runstate(s, "crashed");
        s->link->obs.running = false;
        break;
    default:
        break;
    }
}

void lv_vm_on_reboot(struct session *s)
{
    observe_reset(&s->link->obs);
    log_info("vm %s: guest reset", s->name);
    /* QEMU unplugs all of virtio-mem at a reset; the guest's driver plugs
     * up to requested-size again when it loads. */
    lv_vmem_refresh(s);
}

void lv_vm_on_balloon(struct session *s, unsigned long long actual_kib)
{
    if (actual_kib > LV_SIZE_MAX_BYTES / 1024) {
        log_limited(&s->lv->rl, LOG_WARNING, "vm %s: libvirt's balloon event says %llu KiB; ignored",
                    s->name, actual_kib);
        return;
    }
    /* With virtio-mem the balloon's share comes from the stats alone
     * (lv_vmem_balloon_share). */
    if (s->link->conn == VM_READY && s->link->obs.has_balloon && !s->link->obs.vmem.present) {
        s->balloon_bytes = actual_kib * 1024;
        s->have_balloon_bytes = true;
        lv_vmem_observe(s);
    }
}

void lv_vm_on_migration(struct session *s, bool over)
{
    s->migrating = !over;
    s->migrating_ms = now_ms();
    if (!over) {
        set_runstate(s, "migrating");
        s->link->obs.running = false; /* never inflated while it moves */
    }
}

/* ---- targets --------------------------------------------------------------- */

struct target_job {
    struct lv *lv;
    virConnectPtr conn;
    char *name;
    uint64_t bytes;              /* to the balloon */
    bool balloon;                /* the domain has one */
    char *vmem_elem;             /* its virtio-mem device, or NULL */
    uint64_t requested_bytes;    /* ... asked for this */
    bool vmem_done;
    int period;                  /* restore jobs: the period to put back */
    char error[200];
};

static void target_run(void *arg)
{
    struct target_job *j = arg;
    virDomainPtr dom = virDomainLookupByName(j->conn, j->name);

    if (!dom) {
        snprintf(j->error, sizeof(j->error), "%s", lv_error());
        return;
    }
    if (j->vmem_elem)
        j->vmem_done = lv_vmem_request_run(dom, j->vmem_elem, j->requested_bytes, j->error, sizeof(j->error)) == 0;
    if (!j->error[0] && j->balloon && virDomainSetMemoryFlags(dom, j->bytes / 1024, VIR_DOMAIN_AFFECT_LIVE) < 0)
        snprintf(j->error, sizeof(j->error), "%s", lv_error());
    virDomainFree(dom);
}

static int target_submit(struct session *s);

static void target_done(void *arg)
{
    struct target_job *j = arg;
    struct session *s = lv_find(j->lv, j->name);

    if (j->error[0])
        log_limited(&j->lv->rl, LOG_WARNING, "vm %s: libvirt refused the target: %s", j->name, j->error);
    if (s) {
        s->set_inflight = false;
        if (j->vmem_done && s->vmem)
            s->link->obs.vmem.requested_bytes = j->requested_bytes;
        if (s->set_pending)
            target_submit(s);
    }
    free(j->vmem_elem);
    free(j->name);
    free(j);
}

static int target_submit(struct session *s)
{
    struct target_job *j = calloc(1, sizeof(*j));
    const struct vm_observed *o = &s->link->obs;
    struct vmem_plan plan;

    if (!j || !(j->name = strdup(s->name))) {
        free(j);
        return -ENOMEM;
    }
    /* The same split as QMP's (core/vmem.h): whole blocks to virtio-mem,
     * the rest to the balloon. */
    vmem_plan(&o->vmem, o->has_balloon, s->set_bytes, &plan);
    *j = (struct target_job){.lv = s->lv, .conn = s->lv->conn, .name = j->name, .bytes = plan.balloon_bytes,
                             .balloon = o->has_balloon, .requested_bytes = plan.requested_bytes};
    if (s->vmem && !(j->vmem_elem = strdup(s->vmem->elem))) {
        free(j->name);
        free(j);
        return -ENOMEM;
    }
    if (lv_worker_submit(s->lv->w, target_run, target_done, j) < 0) {
        free(j->vmem_elem);
        free(j->name);
        free(j);
        return -ENOMEM;
    }
    s->set_inflight = true;
    s->set_pending = false;
    return 0;
}

/* The latest target wins: one call in flight per domain, at most one
 * waiting, so a stuck libvirtd never piles them up. */
static int lv_vm_set_target(struct session *s, uint64_t target_bytes)
{
    if (s->link->conn != VM_READY || s->lv->state != LV_UP)
        return -ENOTCONN;
    s->set_bytes = target_bytes;
    if (s->set_inflight) {
        s->set_pending = true;
        return 0;
    }
    return target_submit(s);
}

/* ---- the seam (backend.h) ---------------------------------------------------- */

static void restore_run(void *arg)
{
    struct target_job *j = arg;
    virDomainPtr dom = virDomainLookupByName(j->conn, j->name);

    if (dom) {
        virDomainSetMemoryStatsPeriod(dom, j->period, VIR_DOMAIN_AFFECT_LIVE);
        virDomainFree(dom);
    }
    free(j->name);
    free(j);
}

/* The stats period balloond turned on is put back as it found it. */
static void lv_vm_restore(struct session *s)
{
    struct target_job *j;

    if (s->period_before < 0 || s->lv->state != LV_UP || !(j = calloc(1, sizeof(*j))))
        return;
    *j = (struct target_job){.lv = s->lv, .conn = s->lv->conn, .name = strdup(s->name), .period = s->period_before};
    if (!j->name || lv_worker_submit(s->lv->w, restore_run, NULL, j) < 0) {
        free(j->name);
        free(j);
    }
}

static int lv_attach(sd_event *ev, const char *name, const char *address, const struct backend_attach *a,
                     struct vm_link *link, struct session **out)
{
    struct lv *lv = a->source;
    struct session *s;

    if (!lv)
        return -EINVAL;
    if (grow_reserve(&lv->sessions, &lv->cap_sessions, lv->n_sessions + 1, sizeof(*lv->sessions), 16) < 0)
        return -ENOMEM;
    s = calloc(1, sizeof(*s));
    if (!s || !(s->name = strdup(name))) {
        free(s);
        return -ENOMEM;
    }
    *s = (struct session){.lv = lv, .name = s->name, .link = link, .attached_ms = now_ms(), .period_before = -1};
    link->conn = VM_CONNECTING;
    snprintf(link->runstate, sizeof(link->runstate), "unknown");
    lv->sessions[lv->n_sessions++] = s;
    *out = s;
    return 0;
}

static void lv_detach(struct session *s)
{
    struct lv *lv;

    if (!s)
        return;
    lv = s->lv;
    lv_vm_restore(s);
    lv_vmem_free(s);
    for (size_t i = 0; i < lv->n_sessions; i++)
        if (lv->sessions[i] == s) {
            lv->sessions[i] = lv->sessions[--lv->n_sessions];
            break;
        }
    free(s->name);
    free(s);
}

static void lv_start(struct session *s)
{
    lv_vm_setup(s);
}

/* The bulk stats of lv_tick() serve every domain: nothing per VM to
 * wait for (the tick waits for the bulk answer). */
static bool lv_poll(struct session *s, uint64_t round)
{
    if (s->link->conn == VM_RETRY && s->lv->state == LV_UP)
        lv_vm_setup(s);
    /* The plugged size comes with libvirt's event; the XML is read again
     * now and then for what an event may have missed (a reconnect). */
    if (s->vmem && ++s->polls % LV_VMEM_REFRESH_POLLS == 0)
        lv_vmem_refresh(s);
    return false;
}

static const char *lv_why_not_ready(const struct vm_link *link)
{
    switch (link->conn) {
    case VM_NO_BALLOON:
        return link->last_error[0] ? link->last_error : "the domain has no balloon device";
    case VM_CONNECTING:
        return "not set up yet (reading the domain from libvirt)";
    case VM_RETRY:
        return link->last_error[0] ? link->last_error : "not connected to libvirtd";
    case VM_READY:
        break;
    }
    return NULL;
}

const struct backend_ops backend_libvirt = {
    .name = "libvirt",
    .attach = lv_attach,
    .start = lv_start,
    .detach = lv_detach,
    .poll = lv_poll,
    .set_target = lv_vm_set_target,
    .why_not_ready = lv_why_not_ready,
};
