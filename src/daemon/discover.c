/* discover.c: how the manager finds VMs (see mgr_priv.h). The QMP socket
 * directory: a socket that appears is a VM to attach, one that goes is
 * detached; only sockets of root or the configured QEMU user are spoken
 * to. libvirt's domains: what the libvirt backend finds and loses. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "mgr_priv.h"

static bool valid_vm_name(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > VM_NAME_MAX || name[0] == '.')
        return false;
    for (const char *p = name; *p; p++)
        if (*p <= ' ' || *p == 0x7f || *p == '"' || *p == '\\')
            return false;
    return true;
}

ssize_t mgr_find(const struct mgr *m, const char *name)
{
    return names_get(&m->names, name);
}

static bool mgr_peer_ok(void *ctx, uid_t uid, gid_t gid)
{
    struct mgr *m = ctx;

    return trust_ok(&m->conf->host.qemu, uid, gid);
}

/* A socket file owned by someone QEMU does not run as is not spoken to. */
static bool mgr_owner_ok(struct mgr *m, const char *name, const struct stat *st)
{
    char who[96];

    if (trust_ok(&m->conf->host.qemu, st->st_uid, st->st_gid))
        return true;
    if (trust_refused_note(&m->refused, name))
        log_warn("socket %s/%s: owned by %s, who is neither root nor a qemu_user or "
                 "qemu_group; refused", m->conf->host.socket_dir, name,
                 trust_describe(st->st_uid, who, sizeof(who)));
    return false;
}

/* A VM found by a backend at address: attached, its settings loaded,
 * started. what: how it was found, for the event log. */
static void mgr_attach_vm(struct mgr *m, const struct backend_ops *ops, const char *name, const char *address,
                          void *source, const char *what)
{
    struct backend_attach attach = {
        .peer_ok = mgr_peer_ok,
        .peer_ctx = m,
        .churn_rl = &m->churn_rl,
        .source = source,
        .answered = mgr_answered,
        .answered_ctx = m,
    };
    struct vm *vm;

    if (grow_reserve(&m->vms, &m->cap_vms, m->n_vms + 1, sizeof(*m->vms), 16) < 0)
        return;
    if (vm_attach(ops, m->ev, name, address, &attach, &vm) < 0) {
        log_err("vm %s: out of memory", name);
        return;
    }
    if (names_put(&m->names, vm->name, m->n_vms) < 0) {
        log_err("vm %s: out of memory", name);
        vm_free(vm);
        return;
    }
    m->vms[m->n_vms++] = vm;
    command_load_settings(m->state, vm);
    events_add_limited(m->events, &m->churn_rl, LOG_INFO, name, "found %s", what);
    vm->ops->start(vm->session);
}

static void mgr_attach(struct mgr *m, const char *name)
{
    char path[4096], what[4200];

    snprintf(path, sizeof(path), "%s/%s", m->conf->host.socket_dir, name);
    snprintf(what, sizeof(what), "QMP socket %s", path);
    mgr_attach_vm(m, &backend_qmp, name, path, NULL, what);
}

static void mgr_detach_why(struct mgr *m, size_t i, const char *why)
{
    struct vm *vm = m->vms[i];

    events_add_limited(m->events, &m->churn_rl, LOG_INFO, vm->name, "%s", why);
    state_forget(m->state, vm->name);
    names_del(&m->names, vm->name);
    vm_free(vm);
    m->vms[i] = m->vms[--m->n_vms];
    if (i < m->n_vms)
        names_put(&m->names, m->vms[i]->name, i); /* an update: never allocates */
}

static void mgr_detach(struct mgr *m, size_t i)
{
    mgr_detach_why(m, i, "QMP socket gone; no longer managed");
}

/* ---- the libvirt backend's news (lv.h) ---------------------------------- */

static void mgr_lv_found(void *ctx, const char *name)
{
    struct mgr *m = ctx;
    ssize_t i = mgr_find(m, name);

    if (i >= 0) {
        if (m->vms[i]->ops != &backend_libvirt)
            log_limited(&m->churn_rl, LOG_WARNING, "libvirt domain %s: a VM of that name is managed "
                        "through its QMP socket; the domain is left to it", name);
        return;
    }
    if (!valid_vm_name(name)) {
        log_limited(&m->churn_rl, LOG_WARNING, "libvirt domain %s: name is not a usable VM name; ignored", name);
        return;
    }
    mgr_attach_vm(m, &backend_libvirt, name, name, m->lv, "libvirt domain");
}

static void mgr_lv_gone(void *ctx, const char *name, const char *why)
{
    struct mgr *m = ctx;
    ssize_t i = mgr_find(m, name);

    if (i >= 0 && m->vms[i]->ops == &backend_libvirt)
        mgr_detach_why(m, (size_t)i, why);
}

int mgr_libvirt_open(struct mgr *m)
{
    struct lv_host host = {.ctx = m, .found = mgr_lv_found, .gone = mgr_lv_gone, .answered = mgr_answered};
    int r = lv_new(m->ev, m->conf->host.libvirt_uri, &host, &m->lv);

    if (r < 0)
        log_err("libvirt %s: %s", m->conf->host.libvirt_uri, strerror(-r));
    return r;
}

/* Cheap enough (one readdir) to run on every tick and on inotify. */
void mgr_discover(struct mgr *m)
{
    const char *dir = m->conf->host.socket_dir;
    size_t n_before = m->n_vms;
    struct dirent *de;
    bool *seen;
    DIR *d;

    if (n_before > m->cap_seen) {
        seen = realloc(m->seen, n_before * sizeof(*seen));
        if (!seen)
            return;
        m->seen = seen;
        m->cap_seen = n_before;
    }
    seen = m->seen;
    if (n_before)
        memset(seen, 0, n_before * sizeof(*seen));
    d = opendir(dir);
    if (!d) {
        if (!m->host_failed)
            log_err("socket directory %s: %s", dir, strerror(errno));
        return;
    }
    m->scans++;
    while ((de = readdir(d))) {
        struct stat st;
        ssize_t i;

        if (de->d_type != DT_SOCK && de->d_type != DT_UNKNOWN)
            continue;
        /* A socket already managed is looked at closely (type, owner)
         * every DISCOVER_RECHECK_SCANS scans only: a stat per VM per
         * tick was 8% of balloond's CPU at 1000 VMs. */
        i = de->d_type == DT_SOCK && m->scans % DISCOVER_RECHECK_SCANS ? mgr_find(m, de->d_name) : -1;
        if (i >= 0 && (size_t)i < n_before) {
            seen[i] = true;
            continue;
        }
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISSOCK(st.st_mode))
            continue;
        if (!valid_vm_name(de->d_name)) {
            log_debug("socket %s/%s: name is not a usable VM name; ignored", dir, de->d_name);
            continue;
        }
        if (!mgr_owner_ok(m, de->d_name, &st))
            continue;
        i = mgr_find(m, de->d_name);
        if (i >= 0 && (size_t)i < n_before)
            seen[i] = true;
        else if (i < 0)
            mgr_attach(m, de->d_name);
    }
    closedir(d);
    trust_refused_sweep(&m->refused);
    for (size_t i = n_before; i-- > 0;)
        if (!seen[i] && m->vms[i]->ops == &backend_qmp)
            mgr_detach(m, i);
}

static int mgr_on_watch(sd_event_source *s, const struct inotify_event *ev, void *userdata)
{
    struct mgr *m = userdata;
    ssize_t i;

    /* A socket created anew under a known name is a new QEMU (the old
     * file may have been left behind): start over at once rather than
     * after the old connection's backoff. */
    if (ev->len && (ev->mask & (IN_CREATE | IN_MOVED_TO)) && (i = mgr_find(m, ev->name)) >= 0 &&
        !vm_is_ready(m->vms[i]))
        mgr_detach(m, (size_t)i);
    mgr_discover(m);
    return 0;
}

int mgr_watch(struct mgr *m)
{
    const char *dir = m->conf->host.socket_dir;
    int r = mkdir_p(dir, 0700);

    if (r < 0) {
        log_err("socket directory %s: cannot create: %s", dir, strerror(-r));
        return r;
    }
    m->watch = sd_event_source_disable_unref(m->watch);
    r = sd_event_add_inotify(m->ev, &m->watch, dir,
                             IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_ONLYDIR,
                             mgr_on_watch, m);
    if (r < 0)
        log_warn("socket directory %s: cannot watch (%s); scanning every tick only", dir, strerror(-r));
    return 0;
}
