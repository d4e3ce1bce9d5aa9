/* lv.h: the libvirt backend: one connection to libvirtd, its running
 * domains as VMs (domain name = VM name), with no change to their XML.
 *
 * Every libvirt call that may be an RPC runs on one worker thread
 * (lv_worker.h); libvirt's own event loop runs on ours (lv_loop.h). So a
 * libvirtd that hangs holds up the libvirt domains' news and targets,
 * never the loop: QMP VMs, the control socket, /metrics and the watchdog
 * keep answering. A lost connection is reopened with a backoff of 1, 2,
 * 4 ... 30 s; the domains keep their VMs (and targets) meanwhile.
 *
 * Per tick: one virConnectGetAllDomainStats (state + balloon groups) for
 * every domain, never one RPC per VM, and never a second while one is in
 * flight. Domains are found and dropped by libvirt's events (lifecycle,
 * reboot, balloon change, migration), and the stats' list catches what
 * an event missed (a reconnect). */
#pragma once
#include <stdint.h>
#include <systemd/sd-event.h>

#include "backend.h"

struct lv;

/* What the backend tells the manager. */
struct lv_host {
    void *ctx;
    /* A running domain of that name: attach a VM (backend_libvirt, the
     * name as its address). */
    void (*found)(void *ctx, const char *name);
    /* The domain stopped, or went away: detach its VM. */
    void (*gone)(void *ctx, const char *name, const char *why);
    /* The bulk stats asked for by lv_tick(round) are in, or failed. */
    void (*answered)(void *ctx, uint64_t round);
};

/* Starts connecting to uri (on the worker). Registers libvirt's event
 * loop on ev first (once per process). 0 or -errno. */
int lv_new(sd_event *ev, const char *uri, const struct lv_host *host, struct lv **out);
/* At exit, after every VM is detached: the statistics periods balloond
 * turned on are put back (given LV_WORKER_EXIT_MS), the connection closed. */
void lv_free(struct lv *lv);
/* Once a tick: the bulk stats, a due reconnect, a lost connection. True
 * when it asked for stats for round (host->answered follows). */
bool lv_tick(struct lv *lv, uint64_t round);

/* The backend's ops; attach wants the struct lv as backend_attach.source. */
extern const struct backend_ops backend_libvirt;
