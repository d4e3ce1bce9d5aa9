/* mgr.c: the manager (see mgr.h). */
#include "mgr.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "mgr_priv.h"

/* ---- one tick: sample -> estimate -> decide -> act ---------------------- */

static bool mgr_sample_host(struct mgr *m)
{
    struct host_sample hs;
    int r = host_sample(m->host, &hs);

    if (r < 0) {
        if (!m->host_failed)
            log_err("host: cannot sample memory (%s); holding every target", strerror(-r));
        m->host_failed = true;
        m->have_host = false;
        return false;
    }
    if (m->host_failed)
        log_info("host: sampling works again");
    m->host_failed = false;
    uint64_t now = now_ms(), swap_rate = 0;
    if (m->have_host && now > m->host_at_ms) {
        uint64_t pages = (hs.vmstat.pswpin - min_u64(hs.vmstat.pswpin, m->hs.vmstat.pswpin)) +
                         (hs.vmstat.pswpout - min_u64(hs.vmstat.pswpout, m->hs.vmstat.pswpout));
        swap_rate = pages * 1000 / (now - m->host_at_ms);
    }
    m->hs = hs;
    m->host_at_ms = now;
    enum host_state was = m->have_host ? m->he.state : HOST_PLENTY;
    estimate_host(&hs, m->conf->host.budget_bytes, &m->conf->host.reserve, was, swap_rate, &m->he);
    if (m->he.state != was) {
        char used[SIZE_FMT_MAX], budget[SIZE_FMT_MAX];
        events_add(m->events, LOG_NOTICE, NULL, "host %s -> %s (used %s of %s, PSI some %.1f%%, swap %" PRIu64 " pages/s)",
                   host_state_str(was), host_state_str(m->he.state), size_format(m->he.used_bytes, used),
                   size_format(m->he.budget_bytes, budget), m->he.psi_some_avg10, swap_rate);
    }
    m->have_host = true;
    return true;
}

/* The settings in force of every VM, resolved in one place before the
 * tick and the snapshot read them: a reload, a `vm set` or a size just
 * learned shows at once. */
static void mgr_resolve_all(struct mgr *m)
{
    for (size_t i = 0; i < m->n_vms; i++)
        vm_resolve(m->vms[i], m->conf);
}

/* The tick's view of one VM: the settings in force (resolved here, once
 * per tick), the operator's choices, a target (and the burst learned)
 * saved before a restart of the same QEMU process. */
static struct tick_vm mgr_tick_vm(struct mgr *m, struct vm *vm)
{
    struct tick_vm t = {
        .ready = vm_is_ready(vm),
        .paused = vm->set.paused,
        .pin_bytes = vm->set.pin_bytes,
        .obs = &vm->link.obs,
        .ctl = &vm->control.ctl,
        .est = &vm->control.est,
    };

    /* What was estimated of a VM that is gone is not shown as current. */
    if (vm->link.conn == VM_RETRY) {
        vm->control.est = (struct vm_estimate){.why_unknown = "not connected"};
        vm->control.rss_bytes = 0;
    }
    t.min_bytes = vm->set.min_bytes;
    t.max_bytes = vm->set.max_bytes;
    t.shares = vm->set.conf.shares;
    t.buffer_pct = vm->set.conf.buffer_pct;
    if (!vm->control.ctl.target_set) {
        t.have_saved = state_get(m->state, vm->name, vm->link.pid, &t.saved_bytes);
        t.have_saved_burst = t.have_saved && state_get_burst(m->state, vm->name, vm->link.pid,
                                                             &t.saved_burst_bytes, &t.saved_burst_t_s);
    }
    return t;
}

/* The level a target change is logged at: routine changes (the policy
 * reclaiming or growing) at info, while at most CHANGE_LOG_BURST a
 * minute pass; rescues from pressure, resets and stalls at notice or
 * warning, each VM's at most VM_LOG_BURST a minute. The rest go to the
 * event log only (debug in the journal) and into the summary. */
static int mgr_change_level(struct mgr *m, struct vm *vm, const struct tick_action *a, uint64_t now)
{
    bool routine = a->kind == TICK_ADOPT || (a->kind != TICK_GUARD && a->reason != POLICY_DEFLATE_PRESSURE);
    int level = routine ? LOG_INFO : a->kind == TICK_GUARD && a->guard == GUARD_STALL ? LOG_WARNING : LOG_NOTICE;

    if (vm->control.log_rl.interval_ms == 0)
        vm->control.log_rl = (struct ratelimit){.interval_ms = 60000, .burst = VM_LOG_BURST};
    if (routine ? ratelimit_pass(&m->change_rl, now, NULL)
                : ratelimit_pass(&vm->control.log_rl, now, NULL) && ratelimit_pass(&m->urgent_rl, now, NULL))
        return level;
    m->quiet.urgent += !routine;
    if (a->kind != TICK_ADOPT) {
        bool down = a->target_bytes < a->from_bytes;
        m->quiet.n[down]++;
        m->quiet.bytes[down] += down ? a->from_bytes - a->target_bytes : a->target_bytes - a->from_bytes;
    }
    return LOG_DEBUG;
}

/* Once a minute, what was not logged one by one. */
static void mgr_log_summary(struct mgr *m, uint64_t now)
{
    char down[SIZE_FMT_MAX], up[SIZE_FMT_MAX];

    if (now - m->quiet.since_ms < 60000)
        return;
    if (m->quiet.n[0] + m->quiet.n[1])
        log_msg(m->quiet.urgent ? LOG_NOTICE : LOG_INFO,
                "target changes in the last %llu s not logged one by one: %llu VMs squeezed by %s in all, "
                "%llu given %s, %llu of them rescues from pressure, resets or stalls (balloonctl events "
                "shows each)", (unsigned long long)((now - m->quiet.since_ms) / 1000),
                (unsigned long long)m->quiet.n[1], size_format(m->quiet.bytes[1], down),
                (unsigned long long)m->quiet.n[0], size_format(m->quiet.bytes[0], up),
                (unsigned long long)m->quiet.urgent);
    m->quiet = (struct quiet_changes){.since_ms = now};
}

static void mgr_log_change(struct mgr *m, struct vm *vm, const struct tick_action *a, uint64_t now)
{
    char from[SIZE_FMT_MAX], to[SIZE_FMT_MAX], used[SIZE_FMT_MAX], avail[SIZE_FMT_MAX];
    const char *why = a->kind == TICK_GUARD ? guard_action_str(a->guard) : policy_reason_str(a->reason);
    bool pressure = a->kind != TICK_GUARD && a->reason == POLICY_DEFLATE_PRESSURE;
    int level = mgr_change_level(m, vm, a, now);

    size_format(a->from_bytes, from);
    size_format(a->target_bytes, to);
    snprintf(vm->control.last_change, sizeof(vm->control.last_change), "%s -> %s: %s", from, to, why);
    if (a->kind == TICK_GUARD) {
        events_add(m->events, level, vm->name, "target %s -> %s: %s", from, to, why);
        return;
    }
    size_format(vm->control.est.used_bytes, used);
    size_format(vm->control.est.avail_bytes, avail);
    events_add(m->events, level, vm->name, "target %s -> %s: %s%s%s (used %s, available %s)%s",
               from, to, why, pressure ? ": " : "", pressure ? vm->control.est.pressure_why : "", used, avail,
               m->opt.dry_run ? " [dry run]" : "");
}

/* One of the tick's target changes: counted, logged, kept in the state
 * file and sent. A self-deflated or stalled guest is at that size
 * already: QEMU is told anyway, so that its target and ours agree. A
 * rebooting guest's driver reads the new size when it loads. */
static void mgr_apply(struct mgr *m, const struct tick_action *a, uint64_t now)
{
    struct vm *vm = m->vms[a->vm];

    if (a->kind == TICK_ADOPT) {
        snprintf(vm->control.last_change, sizeof(vm->control.last_change), "%s",
                 a->restored ? "restored from the state file"
                 : a->moves ? "adopted within its min and max" : "adopted at its current size");
        state_set(m->state, vm->name, vm->link.pid, vm->control.ctl.target_bytes);
        events_add(m->events, mgr_change_level(m, vm, a, now), vm->name, "target %" PRIu64 " MiB (%s)",
                   vm->control.ctl.target_bytes >> 20, vm->control.last_change);
        if (a->moves) /* below min or above max: brought within them */
            vm_send_target(vm, vm->control.ctl.target_bytes);
        return;
    }
    if (a->kind == TICK_GUARD)
        m->guard_actions[a->guard]++;
    if (a->kind == TICK_GUARD && a->guard == GUARD_STALL)
        vm_stall_why(vm, vm->control.stall_why, sizeof(vm->control.stall_why));
    if (a->kind != TICK_GUARD)
        m->decisions[a->reason]++;
    mgr_log_change(m, vm, a, now);
    if (!a->held)
        return;
    state_set(m->state, vm->name, vm->link.pid, vm->control.ctl.target_bytes);
    vm_send_target(vm, vm->control.ctl.target_bytes);
}

/* The event log's word on a driver that does not speak (or speaks again). */
static void mgr_driver_log(struct mgr *m, struct vm *vm, enum tick_step step, uint64_t now)
{
    if (step > TICK_NO_DRIVER) {
        if (vm->control.no_driver_logged)
            events_add(m->events, LOG_NOTICE, vm->name, "the guest's balloon driver reports now: managed");
        vm->control.no_driver_logged = false;
    } else if (step == TICK_NO_DRIVER && vm_no_driver(vm, now) && !vm->control.no_driver_logged) {
        events_add(m->events, LOG_WARNING, vm->name, "no balloon stats %d s after connecting: the guest's "
                   "virtio_balloon driver is not loaded; not managed", CONTROL_DRIVER_GRACE_MS / 1000);
        vm->control.no_driver_logged = true;
    }
}

/* The guest's largest burst goes to the state file; a hash lookup per
 * VM per tick only when it changed. */
static void mgr_save_burst(struct mgr *m, struct vm *vm)
{
    const struct vm_history *h = &vm->link.obs.history;

    if (h->burst_t_s == vm->control.burst_saved_t_s && h->burst_bytes == vm->control.burst_saved_bytes)
        return;
    state_set_burst(m->state, vm->name, vm->link.pid, h->burst_bytes, h->burst_t_s);
    vm->control.burst_saved_bytes = h->burst_bytes;
    vm->control.burst_saved_t_s = h->burst_t_s;
}

/* After the tick, per VM: the event log, and for the VMs the policy
 * decided, QEMU's RSS and the burst learned (kept with the target). */
static size_t mgr_after_tick(struct mgr *m, uint64_t now)
{
    size_t managed = 0;

    for (size_t i = 0; i < m->n_vms; i++) {
        struct vm *vm = m->vms[i];
        mgr_driver_log(m, vm, m->tick_vms[i].step, now);
        if (m->tick_vms[i].step != TICK_POLICY)
            continue;
        managed++;
        /* Shown, not decided on: every RSS_EVERY_TICKS ticks, staggered. */
        if ((vm->control.rss_bytes == 0 || (m->ticks + i) % RSS_EVERY_TICKS == 0) &&
            host_read_proc_rss(m->opt.proc_root, vm->link.pid, &vm->control.rss_bytes) < 0)
            vm->control.rss_bytes = 0;
        mgr_save_burst(m, vm);
    }
    return managed;
}

/* systemctl status shows this line; sent when it changes. */
static void mgr_notify(struct mgr *m, size_t managed)
{
    char line[sizeof(m->notified)];

    snprintf(line, sizeof(line), "host %s, %zu of %zu VMs managed", host_state_str(m->he.state), managed,
             m->n_vms);
    if (strcmp(line, m->notified) != 0) {
        memcpy(m->notified, line, sizeof(line));
        sd_notifyf(0, "STATUS=%s", line);
    }
}

/* The heap array the tick works on, grown with the VM count. */
static int mgr_tick_reserve(struct mgr *m)
{
    return grow_reserve(&m->tick_vms, &m->cap_tick, m->n_vms, sizeof(*m->tick_vms), 16);
}

static void mgr_decide(struct mgr *m)
{
    struct tick_params p = {
        .kind = m->conf->host.policy,
        .step_bytes = m->conf->host.step_bytes,
        .idle_tax_pct = m->conf->host.idle_tax_pct,
        .peer_budget = m->conf->host.peer_budget,
        .dry_run = m->opt.dry_run,
        .now_ms = now_ms(),
        .wall_s = wall_now_s(),
    };
    size_t managed, k = 0;

    fdwatch_check(&m->fdwatch, m->vms, m->n_vms);
    if (!mgr_sample_host(m))
        return;
    if (mgr_tick_reserve(m) < 0) {
        log_err("tick: out of memory; holding every target");
        return;
    }
    mgr_resolve_all(m);
    for (size_t i = 0; i < m->n_vms; i++)
        m->tick_vms[i] = mgr_tick_vm(m, m->vms[i]);
    if (tick_decide(&p, &m->he, &m->round, m->tick_vms, m->n_vms, &m->scratch) < 0) {
        log_err("tick: out of memory; holding every target");
        return;
    }
    /* Adoptions, guard and pins first; the policy's changes after the
     * host's own actuators. */
    for (; k < m->scratch.n_acts && m->scratch.acts[k].kind != TICK_POLICY_SET; k++)
        mgr_apply(m, &m->scratch.acts[k], p.now_ms);
    m->ticks++;
    managed = mgr_after_tick(m, p.now_ms);
    if (!m->opt.dry_run)
        tune_tick(m->tune, &m->he, p.now_ms);
    for (; k < m->scratch.n_acts; k++)
        mgr_apply(m, &m->scratch.acts[k], p.now_ms);
    /* At most every STATE_SAVE_MS: with a thousand VMs some target moves
     * every tick, and each save rewrites the whole file. A crash loses at
     * most that much; a stop saves (mgr_free). */
    if (p.now_ms - m->saved_ms >= STATE_SAVE_MS) {
        state_save(m->state);
        m->saved_ms = p.now_ms;
    }
    mgr_log_summary(m, p.now_ms);
    mgr_notify(m, managed);
}

static int mgr_on_decide(sd_event_source *s, uint64_t usec, void *userdata)
{
    struct mgr *m = userdata;

    if (m->awaiting)
        log_debug("tick: %u answers not in by the decision", m->awaiting);
    m->awaiting = 0; /* late answers of this round wait for the next */
    mgr_decide(m);
    return 0;
}

void mgr_answered(void *ctx, uint64_t round)
{
    struct mgr *m = ctx;
    uint64_t now_us;

    if (round != m->poll_round || m->awaiting == 0 || --m->awaiting > 0)
        return;
    /* Every answer is in: decide now (after the poller's batch, which
     * runs at a lower priority than the timer). */
    if (sd_event_now(m->ev, CLOCK_MONOTONIC, &now_us) >= 0)
        sd_event_source_set_time(m->decide, now_us);
}

/* The tick: find sockets, ask every VM for samples, decide when every
 * answer is in, and at most TICK_DECIDE_DELAY_MS (a third of the
 * interval, if shorter) later: a VM that has not answered by then is
 * decided on its previous sample, never waited for. */
static int mgr_on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
    struct mgr *m = userdata;
    uint64_t delay_ms = m->conf->host.interval_ms / 3;

    m->poll_round++;
    m->awaiting = 0;
    if (conf_backend_has_qmp(m->conf->host.backend))
        mgr_discover(m);
    if (m->lv && lv_tick(m->lv, m->poll_round))
        m->awaiting++;
    for (size_t i = 0; i < m->n_vms; i++)
        m->awaiting += m->vms[i]->ops->poll(m->vms[i]->session, m->poll_round);
    if (delay_ms > TICK_DECIDE_DELAY_MS)
        delay_ms = TICK_DECIDE_DELAY_MS;
    if (m->awaiting == 0)
        delay_ms = 0;
    sd_event_source_set_time(m->decide, usec + delay_ms * 1000);
    sd_event_source_set_enabled(m->decide, SD_EVENT_ONESHOT);
    sd_event_source_set_time(s, usec + m->conf->host.interval_ms * 1000);
    sd_event_source_set_enabled(s, SD_EVENT_ON);
    return 0;
}

/* ---- control socket -------------------------------------------------- */

/* The snapshot of the daemon now: every VM, or only_vm's row alone. */
static json_object *mgr_snapshot(void *userdata, const char *only_vm)
{
    struct mgr *m = userdata;

    mgr_resolve_all(m); /* settings may have changed since the tick */
    struct report_view v = {
        .conf = m->conf,
        .dry_run = m->opt.dry_run,
        .have_host = m->have_host,
        .host = &m->hs,
        .est = &m->he,
        .cgroup_dir = m->conf->host.cgroup,
        .vms = m->vms,
        .n_vms = m->n_vms,
        .only_vm = only_vm,
        .tune = m->tune,
        .decisions = m->decisions,
        .guard_actions = m->guard_actions,
        .now_ms = now_ms(),
    };
    return only_vm ? report_vm_row(&v) : report_status(&v);
}

static json_object *mgr_metrics_snapshot(void *userdata)
{
    return mgr_snapshot(userdata, NULL);
}

static json_object *mgr_on_ctl(const char *command, json_object *req, void *userdata, char **error)
{
    struct mgr *m = userdata;

    return command_run(&m->commands, command, req, error);
}

static struct vm *mgr_vm(void *userdata, const char *name)
{
    struct mgr *m = userdata;
    ssize_t i = mgr_find(m, name);

    return i < 0 ? NULL : m->vms[i];
}

static const struct conf *mgr_conf(void *userdata)
{
    struct mgr *m = userdata;

    return m->conf;
}

static int mgr_reload_cb(void *userdata)
{
    return mgr_reload(userdata);
}

/* ---- life ------------------------------------------------------------- */

static int mgr_open_host(struct mgr *m, const struct conf *c, struct host **out)
{
    int r = host_new(m->opt.proc_root, c->host.cgroup, out);

    if (r < 0)
        log_err("%s: budget cgroup %s: %s (it must be a memory cgroup: v1 .../memory/NAME with "
                "memory.limit_in_bytes, or v2 with memory.max)",
                c->path ? c->path : "config", c->host.cgroup ? c->host.cgroup : "-", strerror(-r));
    return r;
}

/* The state file and the control socket (bound once: not reloadable). */
static int mgr_open_files(struct mgr *m, const struct conf *conf)
{
    int r = mkdir_parent(conf->host.state_file);

    if (r == 0)
        r = state_load(conf->host.state_file, &m->state);
    if (r < 0) {
        log_err("state file %s: %s", conf->host.state_file, strerror(-r));
        return r;
    }
    m->commands.state = m->state;
    r = mkdir_parent(conf->host.control_socket);
    if (r == 0)
        r = ctl_server_new(m->ev, conf->host.control_socket, mgr_on_ctl, m, &m->ctl);
    if (r < 0)
        log_err("control socket %s: %s", conf->host.control_socket, strerror(-r));
    return r;
}

int mgr_new(sd_event *ev, struct conf *conf, const struct mgr_options *opt, struct mgr **out)
{
    struct mgr *m = calloc(1, sizeof(*m));
    int r;

    if (!m) {
        conf_free(conf);
        return -ENOMEM;
    }
    m->churn_rl = (struct ratelimit){.interval_ms = 10000, .burst = 100};
    m->change_rl = (struct ratelimit){.interval_ms = 60000, .burst = CHANGE_LOG_BURST};
    m->urgent_rl = (struct ratelimit){.interval_ms = 60000, .burst = URGENT_LOG_BURST};
    m->quiet.since_ms = now_ms();
    m->ev = sd_event_ref(ev);
    m->conf = conf;
    m->opt = *opt;
    m->events = events_new();
    m->commands = (struct command_host){.ctx = m, .find_vm = mgr_vm, .conf = mgr_conf,
                                        .snapshot = mgr_snapshot, .reload = mgr_reload_cb,
                                        .events = m->events};
    if (!m->events) {
        r = -ENOMEM;
        goto fail;
    }
    r = mgr_open_host(m, conf, &m->host);
    if (r < 0)
        goto fail;
    r = mgr_open_files(m, conf);
    if (r < 0)
        goto fail;
    r = conf_backend_has_qmp(conf->host.backend) ? mgr_watch(m) : 0;
    if (r == 0 && conf_backend_has_libvirt(conf->host.backend))
        r = mgr_libvirt_open(m);
    if (r < 0)
        goto fail;
    r = tune_new(opt->sys_root, opt->proc_root, &conf->host, opt->host_tuning && !opt->dry_run,
                 m->events, &m->tune);
    if (r < 0)
        goto fail;
    if (conf->host.metrics_listen) {
        r = metrics_new(ev, conf->host.metrics_listen, mgr_metrics_snapshot, m, &m->metrics);
        if (r < 0) {
            log_err("metrics: cannot listen on %s: %s", conf->host.metrics_listen, strerror(-r));
            goto fail;
        }
        log_info("metrics: http://%s/metrics", conf->host.metrics_listen);
    }
    r = sd_event_add_time_relative(ev, &m->tick, CLOCK_MONOTONIC, 0, 1000, mgr_on_tick, m);
    if (r < 0)
        goto fail;
    sd_event_source_set_enabled(m->tick, SD_EVENT_ON);
    r = sd_event_add_time(ev, &m->decide, CLOCK_MONOTONIC, UINT64_MAX, 1000, mgr_on_decide, m);
    if (r < 0)
        goto fail;
    sd_event_source_set_enabled(m->decide, SD_EVENT_OFF);
    *out = m;
    return 0;
fail:
    mgr_free(m);
    return r;
}

void mgr_free(struct mgr *m)
{
    if (!m)
        return;
    trust_refused_free(&m->refused);
    if (m->state)
        state_save(m->state);
    for (size_t i = 0; i < m->n_vms; i++)
        vm_free(m->vms[i]);
    lv_free(m->lv); /* after its VMs: their stats periods are put back */
    free(m->vms);
    names_free(&m->names);
    free(m->tick_vms);
    free(m->seen);
    tick_scratch_free(&m->scratch);
    sd_event_source_disable_unref(m->tick);
    sd_event_source_disable_unref(m->decide);
    sd_event_source_disable_unref(m->watch);
    ctl_server_free(m->ctl);
    metrics_free(m->metrics);
    tune_free(m->tune); /* puts KSM, zswap and zram back as they were */
    state_free(m->state);
    events_free(m->events);
    host_free(m->host);
    conf_free(m->conf);
    sd_event_unref(m->ev);
    free(m);
}

/* The new config, with what a reload may not change (conf_keys.c's
 * reloadable flag) kept at its running value. 0, or -EINVAL (logged). */
static int mgr_reload_conf(struct mgr *m, struct conf **out)
{
    char changed[256];
    struct conf *c;

    if (conf_load(m->conf->path, &c) < 0) {
        log_err("reload: %s is not valid; keeping the running configuration", m->conf->path);
        return -EINVAL;
    }
    if (conf_keep_running(m->conf, c, changed, sizeof(changed)) < 0) {
        log_err("reload: out of memory; keeping the running configuration");
        conf_free(c);
        return -EINVAL;
    }
    if (changed[0])
        log_warn("reload: %s: changes take effect at the next start", changed);
    *out = c;
    return 0;
}

int mgr_reload(struct mgr *m)
{
    struct conf *c;
    struct host *h = NULL;
    bool rewatch;

    if (!m->conf->path) {
        log_info("reload: running on built-in defaults, nothing to reload");
        return 0;
    }
    if (mgr_reload_conf(m, &c) < 0)
        return -EINVAL;
    if (mgr_open_host(m, c, &h) < 0) {
        log_err("reload: keeping the running configuration");
        conf_free(c);
        return -EINVAL;
    }
    host_free(m->host);
    m->host = h;
    if (c->host.policy != m->conf->host.policy) {
        log_notice("reload: policy %s -> %s", policy_kind_str(m->conf->host.policy),
                   policy_kind_str(c->host.policy));
        m->round = (struct policy_round){0};
    }
    rewatch = strcmp(m->conf->host.socket_dir, c->host.socket_dir) != 0;
    conf_free(m->conf);
    m->conf = c;
    if (rewatch && conf_backend_has_qmp(c->host.backend))
        mgr_watch(m);
    events_add(m->events, LOG_NOTICE, NULL, "reload: %s applied", c->path);
    return 0;
}
