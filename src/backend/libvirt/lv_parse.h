/* lv_parse.h: what libvirt hands the libvirt backend, read into plain
 * structs: one domain's record of virConnectGetAllDomainStats (state and
 * balloon groups) and the few facts of a domain's XML that decide
 * whether ballooning it can work. Pure (no libvirt connection, no I/O),
 * so hostile or absurd values are tested with literals.
 *
 * libvirt's balloon fields are KiB (counters are counts); names from
 * libvirt's virConnectGetAllDomainStats documentation:
 *   balloon.current     the balloon's size now (QEMU's "actual")
 *   balloon.maximum     the domain's memory (its size)
 *   balloon.unused      the guest's free memory          (stat-free-memory)
 *   balloon.available   the guest's MemTotal             (stat-total-memory)
 *   balloon.usable      the guest's MemAvailable         (stat-available-memory)
 *   balloon.disk_caches, swap_in, swap_out, major_fault, minor_fault
 *   balloon.last-update when the guest last reported (seconds, wall clock)
 *   balloon.rss         QEMU's resident set */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <libvirt/libvirt.h>

#include "qmp.h"
#include "vmem.h"

/* A domain reporting more than 2^52 bytes is not telling the truth
 * (x86-64 has at most 52 physical address bits): as in the QMP backend. */
#define LV_SIZE_MAX_BYTES (1ULL << 52)

struct lv_dom_stats {
    char name[256];
    int state, reason;           /* virDomainState and its reason; -1: not said */
    bool have_current, have_maximum;
    uint64_t current_bytes, maximum_bytes;
    uint64_t rss_bytes;          /* 0: not said */
    /* The guest's report, as the QMP backend reads it; QMP_UNKNOWN where
     * libvirt did not say; last_update_s 0: the guest never reported. */
    struct qmp_guest_stats guest;
    /* What was refused, for the log ("balloon.maximum above 4 PiB"), or "". */
    char bad[96];
};

/* One record (name, params[0 .. n)) into out. Values above
 * LV_SIZE_MAX_BYTES are dropped and named in out->bad. */
void lv_stats_read(const char *name, const virTypedParameter *params, int n, struct lv_dom_stats *out);

/* A running domain's state in QEMU's words where they exist: running,
 * paused, shutdown, crashed, pmsuspended, migrating ("paused" for
 * migration); "unknown" for anything else. */
const char *lv_state_str(int state, int reason);

enum lv_balloon { LV_BALLOON_NONE, LV_BALLOON_VIRTIO, LV_BALLOON_OTHER };

/* A <memory model='virtio-mem'> device of the live XML (libvirt's
 * formatdomain, "Memory devices"; libvirt 7.9 and later):
 *   <memory model='virtio-mem'>
 *     <target><size unit='KiB'>..</size><node>0</node>
 *       <block unit='KiB'>2048</block><requested unit='KiB'>..</requested>
 *       <current unit='KiB'>..</current></target>
 *     <alias name='virtiomem0'/> <address type='pci' .../>
 *   </memory>
 * size is the device's max-size, requested what was last asked, current
 * what the guest has plugged (output only). The domain's <memory> counts
 * it (measured on libvirt 9.0: the total is the boot RAM plus every
 * memory device's size), so the balloon's base is <memory> less its size. */
#define LV_VMEM_ALIAS_MAX 64
/* The element is sent back as it came, with a new <requested>: a longer
 * one (libvirt writes about 400 bytes) is not driven. */
#define LV_VMEM_ELEM_MAX 2048

struct lv_vmem_dev {
    struct vmem_obs v;           /* present false: no device to drive */
    char alias[LV_VMEM_ALIAS_MAX];
    char elem[LV_VMEM_ELEM_MAX]; /* the whole <memory ...>...</memory> */
    bool anon;                   /* a virtio-mem device with no alias was seen */
    char bad[160];               /* why the first device is not driven, or "" */
};

struct lv_xml_facts {
    enum lv_balloon balloon;     /* <memballoon model=...>; absent: NONE */
    bool deflate_on_oom;         /* <memballoon ... deflate='on'> */
    bool free_page_reporting;    /* <memballoon ... freePageReporting='on'> */
    int stats_period;            /* <stats period='N'/> in the balloon; 0: none */
    bool locked;                 /* <memoryBacking><locked/> */
    bool hugepages;              /* <memoryBacking><hugepages/> */
    bool hostdev;                /* a <hostdev>: VFIO pins all guest memory */
    struct lv_vmem_dev vmem;     /* the first virtio-mem device */
};

/* Reads the facts from a domain's XML as libvirt formats it (its own
 * writer: one element per tag, attributes in single quotes). */
void lv_xml_read(const char *xml, struct lv_xml_facts *out);

/* The first virtio-mem device of xml with an alias into out (present
 * false when none; bad says why one is not driven: sizes that are not
 * well-formed (vmem_obs_valid), a <memory> total below its size, an
 * element too long). lv_xml_read calls it. */
void lv_xml_vmem_read(const char *xml, struct lv_vmem_dev *out);

/* The device XML for virDomainUpdateDeviceFlags: elem (lv_vmem_dev) with
 * <requested unit='KiB'> set to requested_bytes and the output-only
 * <current> left out. 0, or -EBADMSG (elem is not a virtio-mem element
 * with a <target>), -ENOSPC (buf too small). */
int lv_vmem_update_xml(const char *elem, uint64_t requested_bytes, char *buf, size_t len);

/* Why a domain with these facts is left alone ("memory is locked
 * (<memoryBacking><locked/>): a balloon gives nothing back to the
 * host"), or NULL when a balloon can work, or the domain has a virtio-mem
 * device to drive (it works with locked memory, hugepages and VFIO). */
const char *lv_xml_unsuitable(const struct lv_xml_facts *f);

/* Whether /proc/PID/cmdline (NUL-separated, len bytes) is QEMU's for
 * the domain name: it has "-name" then "guest=NAME" (or NAME) up to a
 * comma or its end. */
bool lv_cmdline_is_domain(const char *cmdline, size_t len, const char *name);
