/* qmp_vm.c: the QMP backend's session with one VM (see qmp_vm.h). */
#include "qmp_vm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "observe.h"
#include "trust.h"
#include "util.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
/* x86-64 guests have at most 52 physical address bits: a VM reporting
 * more RAM than 2^52 bytes (4 PiB) is not telling the truth. */
#define VM_SIZE_MAX_BYTES (1ULL << 52)

static void vm_setup(struct session *vm);

static void vm_fail(struct session *vm, const char *why)
{
    if (!vm->logged_failure || strcmp(vm->link->last_error, why) != 0)
        log_limited(vm->churn_rl ? vm->churn_rl : &vm->fail_rl, LOG_WARNING, "vm %s: %s; retrying",
                    vm->name, why);
    vm->logged_failure = true;
    snprintf(vm->link->last_error, sizeof(vm->link->last_error), "%s", why);
}

static int vm_on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
    qmp_vm_start(userdata);
    return 0;
}

/* The run state of a VM we cannot talk to is not the last one QEMU told
 * us: its process is gone (killed, crashed) or just not answering. */
static void vm_set_disconnected(struct session *vm)
{
    bool gone = vm->link->pid > 0 && kill(vm->link->pid, 0) < 0 && errno == ESRCH;

    snprintf(vm->link->runstate, sizeof(vm->link->runstate), "%s", gone ? "gone" : "disconnected");
    observe_lost(&vm->link->obs);
}

static void vm_schedule_retry(struct session *vm)
{
    vm->link->conn = VM_RETRY;
    vm_set_disconnected(vm);
    vm->backoff_ms = vm->backoff_ms ? vm->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (vm->backoff_ms > BACKOFF_MAX_MS)
        vm->backoff_ms = BACKOFF_MAX_MS;
    sd_event_source_set_time(vm->retry, (now_ms() + vm->backoff_ms) * 1000);
    sd_event_source_set_enabled(vm->retry, SD_EVENT_ONESHOT);
}

/* The guest-stats question is over (answered, or gone with the
 * connection): the tick round it was asked for, 0 if none. */
static uint64_t vm_stats_over(struct session *vm)
{
    uint64_t round = vm->stats_asked ? vm->stats_round : 0;

    vm->stats_asked = false;
    vm->stats_round = 0;
    return round;
}

/* Last in a callback: it may decide the tick. */
static void vm_answered(struct session *vm, uint64_t round)
{
    if (round && vm->answered)
        vm->answered(vm->answered_ctx, round);
}

static void vm_on_closed(struct qmp *q, int err, const char *why, void *userdata)
{
    struct session *vm = userdata;
    uint64_t round = vm_stats_over(vm); /* no answer will come */

    vm_fail(vm, why);
    vm_schedule_retry(vm);
    vm_answered(vm, round);
}

static void vm_on_event(struct qmp *q, const struct qmp_msg *ev, void *userdata)
{
    struct session *vm = userdata;

    if (strcmp(ev->event, "BALLOON_CHANGE") == 0) {
        uint64_t actual = qmp_u64(ev->data, "actual");
        if (actual != QMP_UNKNOWN) {
            vm->balloon_actual_bytes = actual;
            vm->have_balloon_actual = true;
            qmp_vmem_observe(vm);
        }
    } else if (strcmp(ev->event, "MEMORY_DEVICE_SIZE_CHANGE") == 0) {
        qmp_vmem_event(vm, ev->data);
    } else if (strcmp(ev->event, "STOP") == 0) {
        vm->link->obs.running = false;
        snprintf(vm->link->runstate, sizeof(vm->link->runstate), "paused");
    } else if (strcmp(ev->event, "RESUME") == 0) {
        vm->link->obs.running = true;
        snprintf(vm->link->runstate, sizeof(vm->link->runstate), "running");
    } else if (strcmp(ev->event, "SHUTDOWN") == 0) {
        vm->link->obs.running = false;
        snprintf(vm->link->runstate, sizeof(vm->link->runstate), "shutdown");
    } else if (strcmp(ev->event, "RESET") == 0) {
        observe_reset(&vm->link->obs);
        log_limited(&vm->reset_rl, LOG_INFO, "vm %s: guest reset", vm->name);
        /* QEMU unplugs all of virtio-mem at a reset; the guest plugs
         * up to requested-size again when its driver loads. */
        if (vm->link->obs.vmem.present)
            qmp_vmem_poll(vm);
    }
}

static void vm_on_ready(struct qmp *q, void *userdata)
{
    struct session *vm = userdata;

    vm->link->pid = qmp_peer_pid(q);
    vm_setup(vm);
}

static const struct qmp_ops vm_qmp_ops = {
    .ready = vm_on_ready,
    .event = vm_on_event,
    .closed = vm_on_closed,
};

/* ---- setup: find the balloon, turn stats on ---------------------------- */

static void vm_ready(struct session *vm)
{
    if (vm->logged_failure || vm->link->conn != VM_READY)
        log_info("vm %s: managed (pid %d, balloon %s%s%s)", vm->name, (int)vm->link->pid,
                 vm->balloon_path ? vm->balloon_path : "none", vm->link->obs.vmem.present ? ", virtio-mem " : "",
                 vm->link->obs.vmem.present ? vm->vmem_id : "");
    if (vm->link->conn != VM_READY)
        vm->link->ready_ms = now_ms();
    vm->link->conn = VM_READY;
    vm->polls = 0;
    vm->logged_failure = false;
    vm->link->last_error[0] = '\0';
    vm->backoff_ms = 0;
    qmp_vm_poll(vm, 0);
}

static void vm_on_polling_set(struct qmp *q, const struct qmp_msg *m, void *userdata)
{
    struct session *vm = userdata;

    if (m->type == QMP_MSG_ERROR)
        log_warn("vm %s: cannot enable guest stats polling: %s", vm->name, m->err_class);
    vm_ready(vm);
}

static void vm_on_size(struct qmp *q, const struct qmp_msg *m, void *userdata)
{
    struct session *vm = userdata;
    struct vmem_obs *v = &vm->link->obs.vmem;
    uint64_t base = m->type == QMP_MSG_RETURN ? qmp_u64(m->ret, "base-memory") : QMP_UNKNOWN;

    if (base == QMP_UNKNOWN || base == 0) {
        qmp_close(q, -EPROTO, "query-memory-size-summary gave no base-memory");
        return;
    }
    /* The balloon counts -m and the DIMMs (query-memory-devices, read
     * just before); virtio-mem adds up to its max-size. */
    if (base > VM_SIZE_MAX_BYTES || vm->dimm_bytes > VM_SIZE_MAX_BYTES - base ||
        v->max_bytes > VM_SIZE_MAX_BYTES - base - vm->dimm_bytes) {
        qmp_close(q, -EPROTO, "the VM's memory devices add up to more than 4 PiB");
        return;
    }
    v->base_bytes = base + vm->dimm_bytes;
    vm->link->size_bytes = vmem_size_bytes(v);
    vm->link->obs.size_bytes = vm->link->size_bytes;
}

/* query-memory-devices at setup: the virtio-mem device to drive, if any,
 * and the DIMMs. Older QEMUs without the command have neither. */
static void vm_on_devices(struct qmp *q, const struct qmp_msg *m, void *userdata)
{
    struct session *vm = userdata;
    struct vmem_obs v = {0};
    bool anon = false;

    vm->dimm_bytes = 0;
    if (m->type == QMP_MSG_RETURN && qmp_vmem_parse(m->ret, &v, vm->vmem_id, &vm->dimm_bytes, &anon) < 0) {
        log_warn("vm %s: query-memory-devices gave a malformed virtio-mem device; left alone", vm->name);
        v = (struct vmem_obs){0};
    }
    if (anon && !v.present && !vm->vmem_anon_logged)
        log_warn("vm %s: a virtio-mem device has no id, so it cannot be addressed; left alone "
                 "(give it one: -device virtio-mem-pci,id=vmem0,...)", vm->name);
    vm->vmem_anon_logged = anon;
    vm->link->obs.vmem = v;
}

static bool is_balloon_type(const char *type)
{
    return type && strncmp(type, "child<virtio-balloon", 20) == 0;
}

/* qom-list of a container: finds the first child that is a balloon. */
static char *find_balloon(const char *container, json_object *list)
{
    size_t n = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;

    for (size_t i = 0; i < n; i++) {
        json_object *it = json_object_array_get_idx(list, i);
        const char *name = qmp_str(it, "name");
        char *path;
        if (!name || !is_balloon_type(qmp_str(it, "type")))
            continue;
        if (asprintf(&path, "%s/%s", container, name) < 0)
            return NULL;
        return path;
    }
    return NULL;
}

static void vm_on_doo(struct qmp *q, const struct qmp_msg *m, void *userdata)
{
    struct session *vm = userdata;

    bool on;

    vm->link->obs.deflate_on_oom = m->type == QMP_MSG_RETURN && qmp_bool(m->ret, &on) == 0 && on;
}

static json_object *qom_args(const char *path, const char *property)
{
    json_object *args = json_object_new_object();

    json_object_object_add(args, "path", json_object_new_string(path));
    json_object_object_add(args, "property", json_object_new_string(property));
    return args;
}

static void vm_forget_balloon(struct session *vm)
{
    free(vm->balloon_path);
    free(vm->stats_args);
    vm->balloon_path = vm->stats_args = NULL;
}

/* The arguments of the one command every VM gets every tick, serialised
 * once per balloon found (issue 12: json-c objects per command). */
static const char *vm_stats_args(struct session *vm)
{
    if (!vm->stats_args && vm->balloon_path) {
        json_object *a = qom_args(vm->balloon_path, "guest-stats");
        const char *s = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN);
        vm->stats_args = s ? strdup(s) : NULL;
        json_object_put(a);
    }
    return vm->stats_args;
}

static void vm_on_fpr(struct qmp *q, const struct qmp_msg *m, void *userdata)
{
    struct session *vm = userdata;
    bool on;

    /* QEMU < 5.1 has no such property: off. */
    vm->link->obs.free_page_reporting = m->type == QMP_MSG_RETURN && qmp_bool(m->ret, &on) == 0 && on;
}

static void vm_after_balloon_found(struct session *vm)
{
    json_object *args = qom_args(vm->balloon_path, "guest-stats-polling-interval");

    json_object_object_add(args, "value", json_object_new_int(VM_STATS_POLL_S));
    vm->link->obs.has_balloon = true;
    qmp_command(vm->qmp, "qom-get", qom_args(vm->balloon_path, "deflate-on-oom"), vm_on_doo, vm);
    qmp_command(vm->qmp, "qom-get", qom_args(vm->balloon_path, "free-page-reporting"), vm_on_fpr, vm);
    qmp_command(vm->qmp, "qom-set", args, vm_on_polling_set, vm);
}

static void vm_on_list_anon(struct qmp *q, const struct qmp_msg *m, void *userdata)
{
    struct session *vm = userdata;

    vm_forget_balloon(vm);
    vm->balloon_path = m->type == QMP_MSG_RETURN ? find_balloon("/machine/peripheral-anon", m->ret) : NULL;
    if (!vm->balloon_path && vm->link->obs.vmem.present) {
        /* virtio-mem alone: driven, but with no balloon there are no
         * guest stats to decide on (vm.c says so in the status). */
        qmp_vmem_observe(vm);
        vm_ready(vm);
        return;
    }
    if (!vm->balloon_path) {
        if (vm->link->conn != VM_NO_BALLOON)
            log_err("vm %s: has no virtio-balloon device; not managed "
                    "(start QEMU with -device virtio-balloon-pci,id=balloon0)", vm->name);
        snprintf(vm->link->last_error, sizeof(vm->link->last_error), "no virtio-balloon device");
        vm->link->conn = VM_NO_BALLOON;
        return;
    }
    vm_after_balloon_found(vm);
}

static void vm_on_list_peripheral(struct qmp *q, const struct qmp_msg *m, void *userdata)
{
    struct session *vm = userdata;
    json_object *args;

    vm_forget_balloon(vm);
    vm->balloon_path = m->type == QMP_MSG_RETURN ? find_balloon("/machine/peripheral", m->ret) : NULL;
    if (vm->balloon_path) {
        vm_after_balloon_found(vm);
        return;
    }
    /* A balloon added without an id lives under peripheral-anon. */
    args = json_object_new_object();
    json_object_object_add(args, "path", json_object_new_string("/machine/peripheral-anon"));
    qmp_command(q, "qom-list", args, vm_on_list_anon, vm);
}

static void vm_setup(struct session *vm)
{
    json_object *args = json_object_new_object();

    vm->link->obs.has_balloon = false;
    vm->link->obs.free_page_reporting = false;
    vm->have_balloon_actual = false;
    /* Replies come in order: the devices are known when the size and
     * the balloon's search are answered. */
    qmp_command(vm->qmp, "query-memory-devices", NULL, vm_on_devices, vm);
    qmp_command(vm->qmp, "query-memory-size-summary", NULL, vm_on_size, vm);
    json_object_object_add(args, "path", json_object_new_string("/machine/peripheral"));
    qmp_command(vm->qmp, "qom-list", args, vm_on_list_peripheral, vm);
    qmp_vm_poll(vm, 0); /* run state and balloon, in parallel with the setup */
}

/* ---- sampling ----------------------------------------------------------- */

static void vm_on_balloon(struct qmp *q, const struct qmp_msg *m, void *userdata)
{
    struct session *vm = userdata;
    uint64_t actual;

    /* An error: DeviceNotActive, the guest driver is not loaded (yet),
     * or no balloon at all. */
    actual = m->type == QMP_MSG_ERROR ? QMP_UNKNOWN : qmp_u64(m->ret, "actual");
    vm->have_balloon_actual = actual != QMP_UNKNOWN;
    if (vm->have_balloon_actual)
        vm->balloon_actual_bytes = actual;
    qmp_vmem_observe(vm);
}

static void vm_on_stats(struct qmp *q, const struct qmp_msg *m, void *userdata)
{
    struct session *vm = userdata;
    struct qmp_guest_stats st;
    uint64_t round = vm_stats_over(vm);

    if (m->type == QMP_MSG_ERROR || qmp_guest_stats_parse(m->ret, &st) < 0) {
        if (observe_no_stats(&vm->link->obs))
            log_warn("vm %s: guest-stats unreadable", vm->name);
    } else {
        observe_stats(&vm->link->obs, &st, now_ms(), wall_now_s());
    }
    vm_answered(vm, round);
}

static void vm_on_status(struct qmp *q, const struct qmp_msg *m, void *userdata)
{
    struct session *vm = userdata;
    const char *status = m->type == QMP_MSG_RETURN ? qmp_str(m->ret, "status") : NULL;

    if (!status)
        return;
    snprintf(vm->link->runstate, sizeof(vm->link->runstate), "%s", status);
    vm->link->obs.running = strcmp(vm->link->runstate, "running") == 0;
}

/* The balloon's size and the run state come with QEMU's events
 * (BALLOON_CHANGE, STOP, RESUME, SHUTDOWN): asked for only until known,
 * and then every VM_RECHECK_POLLS polls for what no event announces
 * (a run state such as a guest error). The guest's stats, every poll,
 * unless the last question is still unanswered: a slow QEMU is not
 * given a queue of them. */
bool qmp_vm_poll(struct session *vm, uint64_t round)
{
    bool recheck = vm->link->conn != VM_READY || !vm->link->obs.have_actual ||
                   vm->polls % VM_RECHECK_POLLS == 0;

    if (!qmp_is_ready(vm->qmp))
        return false;
    vm->polls++;
    if (recheck) {
        qmp_command(vm->qmp, "query-status", NULL, vm_on_status, vm);
        if (vm->link->obs.has_balloon || vm->link->conn != VM_READY)
            qmp_command(vm->qmp, "query-balloon", NULL, vm_on_balloon, vm);
        if (vm->link->obs.vmem.present)
            qmp_vmem_poll(vm);
    }
    if (vm->link->conn != VM_READY || !vm->link->obs.has_balloon || vm->stats_asked)
        return false;
    if (!vm_stats_args(vm) || qmp_command_raw(vm->qmp, "qom-get", vm->stats_args, vm_on_stats, vm) < 0)
        return false;
    vm->stats_asked = true;
    vm->stats_round = round;
    return round != 0;
}

/* ---- acting ------------------------------------------------------------- */

static void vm_on_balloon_set(struct qmp *q, const struct qmp_msg *m, void *userdata)
{
    struct session *vm = userdata;

    if (m->type == QMP_MSG_ERROR)
        log_warn("vm %s: balloon command refused: %s (%s)", vm->name, m->err_class, m->err_desc);
}

int qmp_vm_send(struct session *vm, uint64_t target_bytes)
{
    const struct vm_observed *o = &vm->link->obs;
    struct vmem_plan plan;
    json_object *args;
    int r = 0;

    if (vm->link->conn != VM_READY)
        return -ENOTCONN;
    vmem_plan(&o->vmem, o->has_balloon, target_bytes, &plan);
    if (o->vmem.present)
        r = qmp_vmem_request(vm, plan.requested_bytes);
    if (r < 0 || !o->has_balloon)
        return r;
    args = json_object_new_object();
    json_object_object_add(args, "value", json_object_new_uint64(plan.balloon_bytes));
    return qmp_command(vm->qmp, "balloon", args, vm_on_balloon_set, vm);
}

/* ---- life --------------------------------------------------------------- */

/* Before a word is sent: is the process serving the socket root or one
 * QEMU runs as? A socket of another user's process is refused. */
static bool vm_peer_trusted(struct session *vm)
{
    char who[96], why[224];
    uid_t uid;
    gid_t gid;

    if (!vm->peer_ok)
        return true;
    qmp_peer_ids(vm->qmp, &uid, &gid);
    if (vm->peer_ok(vm->peer_ctx, uid, gid))
        return true;
    snprintf(why, sizeof(why), "QMP socket served by %s, who is neither root nor a "
             "qemu_user or qemu_group; refused", trust_describe(uid, who, sizeof(who)));
    qmp_close(vm->qmp, -EPERM, why);
    return false;
}

void qmp_vm_start(struct session *vm)
{
    char why[160];
    int r;

    vm->link->conn = VM_CONNECTING;
    r = qmp_connect(vm->qmp);
    if (r == -EALREADY)
        return;
    vm->link->out_of_fds = r == -EMFILE;
    if (r == 0 && !vm_peer_trusted(vm))
        return;
    if (r == -EMFILE) {
        /* Told once for every VM so starved, by the manager (fdwatch.h). */
        snprintf(vm->link->last_error, sizeof(vm->link->last_error),
                 "cannot connect: balloond is out of file descriptors (raise LimitNOFILE)");
        vm_schedule_retry(vm);
    } else if (r < 0) {
        snprintf(why, sizeof(why), "cannot connect: %s", strerror(-r));
        vm_fail(vm, why);
        vm_schedule_retry(vm);
    }
}

int qmp_vm_new(sd_event *ev, const char *name, const char *sock_path, struct vm_link *link,
               struct session **out)
{
    struct session *vm = calloc(1, sizeof(*vm));
    int r;

    if (!vm)
        return -ENOMEM;
    vm->name = strdup(name);
    vm->link = link;
    vm->ev = sd_event_ref(ev);
    vm->reset_rl = (struct ratelimit)RATELIMIT_INIT;
    vm->fail_rl = (struct ratelimit)RATELIMIT_INIT;
    snprintf(link->runstate, sizeof(link->runstate), "unknown");
    r = vm->name ? qmp_new(ev, sock_path, name, &vm_qmp_ops, vm, &vm->qmp) : -ENOMEM;
    if (r == 0)
        r = sd_event_add_time(ev, &vm->retry, CLOCK_MONOTONIC, UINT64_MAX, 100 * 1000, vm_on_retry, vm);
    if (r < 0) {
        qmp_vm_free(vm);
        return r;
    }
    sd_event_source_set_enabled(vm->retry, SD_EVENT_OFF);
    *out = vm;
    return 0;
}

void qmp_vm_free(struct session *vm)
{
    if (!vm)
        return;
    qmp_free(vm->qmp);
    sd_event_source_disable_unref(vm->retry);
    sd_event_unref(vm->ev);
    vm_forget_balloon(vm);
    free(vm->name);
    free(vm);
}

/* ---- the backend seam (backend.h) --------------------------------------- */

static const char *qmp_why_not_ready(const struct vm_link *link)
{
    switch (link->conn) {
    case VM_NO_BALLOON:
        return "QEMU has neither a virtio-balloon nor a virtio-mem device (start it with -device "
               "virtio-balloon-pci)";
    case VM_CONNECTING:
        return "not connected yet (setting up QMP)";
    case VM_RETRY:
        if (link->out_of_fds)
            return "not connected: balloond is out of file descriptors (raise LimitNOFILE)";
        return strcmp(link->runstate, "gone") == 0 ? "not connected: its QEMU process is gone"
                                                   : "not connected: QMP does not answer";
    case VM_READY:
        break;
    }
    return NULL;
}

static int qmp_attach(sd_event *ev, const char *name, const char *address, const struct backend_attach *a,
                      struct vm_link *link, struct session **out)
{
    struct session *vm;
    int r = qmp_vm_new(ev, name, address, link, &vm);

    if (r < 0)
        return r;
    vm->peer_ok = a->peer_ok;
    vm->peer_ctx = a->peer_ctx;
    vm->churn_rl = a->churn_rl;
    vm->answered = a->answered;
    vm->answered_ctx = a->answered_ctx;
    *out = vm;
    return 0;
}

const struct backend_ops backend_qmp = {
    .name = "qmp",
    .attach = qmp_attach,
    .start = qmp_vm_start,
    .detach = qmp_vm_free,
    .poll = qmp_vm_poll,
    .set_target = qmp_vm_send,
    .why_not_ready = qmp_why_not_ready,
};
