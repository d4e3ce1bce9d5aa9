/* lv_priv.h: the libvirt backend's own state, shared by lv.c (the
 * connection, events, bulk stats) and lv_vm.c (one domain's session).
 * Threads: everything here is the loop thread's, except what a job's
 * run() reads from its own argument (lv_worker.h). */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "lv.h"
#include "lv_parse.h"
#include "lv_worker.h"
#include "util.h"

enum lv_state { LV_DOWN, LV_OPENING, LV_UP };

struct lv {
    sd_event *ev;
    char *uri;
    struct lv_host host;
    struct lv_worker *w;
    enum lv_state state;
    virConnectPtr conn;          /* LV_UP: jobs get a copy when submitted */
    int event_ids[6];
    atomic_bool closed;          /* libvirt's close callback (any thread) */
    uint64_t backoff_ms, retry_at_ms;
    bool stats_inflight;
    bool busy_logged;            /* "libvirtd has not answered for N s", once */
    char last_error[200];        /* the last connection failure, logged once */
    struct session **sessions;
    size_t n_sessions, cap_sessions;
    struct ratelimit rl;         /* libvirt errors a peer can repeat */
};

struct session {
    struct lv *lv;
    char *name;
    struct vm_link *link;
    uint64_t attached_ms;
    bool setup_inflight;
    int period_before;           /* the stats period found; -1: not changed by us */
    bool migrating;              /* a migration iteration seen lately */
    uint64_t migrating_ms;
    bool set_inflight, set_pending;
    uint64_t set_bytes;          /* the latest target asked for */
    bool logged_bad;             /* an absurd record was logged */
    /* The balloon's size as libvirt last said (balloon.current, the
     * balloon event): virtio-mem's plugged size is added to it. */
    uint64_t balloon_bytes;
    bool have_balloon_bytes;
    /* virtio-mem (lv_vmem.c): the device driven, NULL: none. */
    struct lv_vmem_dev *vmem;
    unsigned polls;
    bool vmem_refresh_inflight;
};

/* lv.c */
struct session *lv_find(struct lv *lv, const char *name);
/* The last libvirt error on this thread, for a message. */
const char *lv_error(void);

/* lv_vm.c */
/* One record of the bulk stats, into the session's link. */
void lv_vm_on_stats(struct session *s, const struct lv_dom_stats *st, uint64_t now_ms);
/* The connection is up (again): set the session up (again). */
void lv_vm_setup(struct session *s);
/* The connection is lost: nothing the session knows is current. */
void lv_vm_lost(struct session *s, const char *why);
/* Domain events, on the loop thread. */
void lv_vm_on_lifecycle(struct session *s, int event, int detail);
void lv_vm_on_reboot(struct session *s);
void lv_vm_on_balloon(struct session *s, unsigned long long actual_kib);
void lv_vm_on_migration(struct session *s, bool running);

/* lv_vmem.c: a domain's virtio-mem device (lv_parse.h), driven with
 * virDomainUpdateDeviceFlags and followed by libvirt's
 * MEMORY_DEVICE_SIZE_CHANGE event and, every LV_VMEM_REFRESH_POLLS
 * polls and after a reset, the live XML. */
#define LV_VMEM_REFRESH_POLLS 30
/* At setup (loop thread): the device of the XML's facts, or none. */
void lv_vmem_setup(struct session *s, const struct lv_xml_facts *f);
/* The balloon's own share of libvirt's balloon.current: libvirt 9.0
 * counts virtio-mem's plugged size in it (measured with
 * scripts/libvirt-vmem-try.sh: balloon.current 1280 MiB for a 256 MiB
 * balloon at rest and 1 GiB plugged), QEMU's balloon counts base only. */
uint64_t lv_vmem_balloon_share(const struct session *s, uint64_t current_bytes);
/* The logical size into the link: the balloon's size (base without a
 * balloon) plus the plugged size. */
void lv_vmem_observe(struct session *s);
/* The event: alias's plugged size is now size_kib. */
void lv_vmem_on_size(struct session *s, const char *alias, unsigned long long size_kib);
/* Re-reads the device from the live XML (on the worker). */
void lv_vmem_refresh(struct session *s);
/* On the worker: asks dom's device (elem) for requested_bytes. 0, or -1
 * with libvirt's reason in err. */
int lv_vmem_request_run(virDomainPtr dom, const char *elem, uint64_t requested_bytes, char *err, size_t len);
/* Detach: frees the session's device. */
void lv_vmem_free(struct session *s);
