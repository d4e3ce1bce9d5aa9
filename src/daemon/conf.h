/* conf.h: the INI config file (libinih).
 *
 *   [host]
 *   interval = 1s            # control tick
 *   socket_dir = /run/balloond/qmp
 *   control_socket = /run/balloond/ctl.sock
 *   state_file = /var/lib/balloond/state.json
 *   budget = 16G             # default: the host's MemTotal
 *   cgroup = /sys/fs/cgroup/memory/machines   # optional budget cgroup, v1 or v2
 *   reserve = 5%             # of the budget, or an absolute size
 *   step = 128M              # largest inflation per VM per tick when the host has plenty
 *   policy = balloond        # or proxmox, mom, static (peers, for comparison)
 *   idle_tax = 75            # % : idle memory counts for less under contention
 *   ksm = on                 # KSM controller
 *   zswap = on               # manage zswap (compressor, pool) when swap exists
 *   zswap_compressor = lz4
 *   zswap_max_pool = 20%
 *   zram = 0                 # without swap: a zram swap device of this size when critical
 *   zram_algorithm = lz4
 *   metrics = 127.0.0.1:9781 # Prometheus /metrics, or off
 *   qemu_user = libvirt-qemu # QMP sockets served by these users (and root) only
 *   qemu_group = kvm         # ... or by these groups
 *
 *   [defaults]               # any VM without a section of its own
 *   min = 25%                # of the VM's max; or absolute
 *   max = 100%
 *   buffer = 20              # % of the guest's used memory kept free
 *   shares = 1000
 *
 *   [vm web1]                # one VM, by its QMP socket's file name
 *   min = 1G
 *
 * Errors name file:line and the problem; conf_load() fails on any. The
 * keys, their parsers, bounds, defaults and whether a reload may change
 * them are one table (conf_keys.h). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "trust.h"
#include "types.h"

/* [host] metrics: loopback only unless the operator opens it up. */
#define CONF_METRICS_LISTEN_DEFAULT "127.0.0.1:9781"

/* [host] backend: where VMs are found. */
enum conf_backend {
    CONF_BACKEND_QMP,      /* QMP sockets in socket_dir */
    CONF_BACKEND_LIBVIRT,  /* libvirt's running domains at libvirt_uri */
    CONF_BACKEND_BOTH,
};
int conf_backend_parse(const char *s, enum conf_backend *out);
const char *conf_backend_str(enum conf_backend b);
static inline bool conf_backend_has_qmp(enum conf_backend b) { return b != CONF_BACKEND_LIBVIRT; }
static inline bool conf_backend_has_libvirt(enum conf_backend b) { return b != CONF_BACKEND_QMP; }

/* A size that may be relative to something else (a VM's max, the budget). */
struct conf_size {
    bool set;
    bool is_pct;
    unsigned pct;    /* when is_pct */
    uint64_t bytes;  /* when !is_pct */
};

struct conf_vm {
    struct conf_size min;    /* relative to the VM's max size */
    struct conf_size max;    /* relative to the VM's configured (QEMU) size */
    bool buffer_set;
    unsigned buffer_pct;
    bool shares_set;
    unsigned shares;
};

struct conf_host {
    uint64_t interval_ms;
    char *socket_dir;
    enum conf_backend backend;
    char *libvirt_uri;
    char *control_socket;
    char *state_file;
    uint64_t budget_bytes;   /* 0: the host's MemTotal */
    char *cgroup;            /* NULL: none */
    struct conf_size reserve;/* relative to the budget */
    uint64_t step_bytes;
    enum policy_kind policy;
    bool peer_budget;        /* a peer policy sees a host of the budget's size */
    unsigned idle_tax_pct;
    /* The host reclaim cascade (issue 4): KSM, then compression. */
    bool ksm;                /* run the KSM controller */
    bool zswap;              /* manage zswap when a swap device exists */
    char *zswap_compressor;
    unsigned zswap_max_pool_pct;
    uint64_t zram_bytes;     /* 0: never create a zram swap device */
    char *zram_algorithm;
    char *metrics_listen;    /* "127.0.0.1:9781"; NULL: off */
    struct trust_ids qemu;   /* qemu_user, qemu_group: besides root, who may serve QMP */
};

struct conf {
    char *path;
    struct conf_host host;
    struct conf_vm defaults;  /* always fully set after load */
    unsigned n_vms;
    char **vm_names;
    struct conf_vm *vms;
};

/* The built-in defaults, as a config with no file. */
struct conf *conf_new_default(void);
/* Parse path. On any error logs "PATH:LINE: problem" for each and returns
 * a negative errno; *out is written only on success. */
int conf_load(const char *path, struct conf **out);
/* conf_load(), and on failure, when first_error is not NULL, *first_error
 * gets the first message logged ("PATH:LINE: problem"; malloc'd, the
 * caller frees; NULL when out of memory). For tests and `balloond -t`. */
int conf_load_ex(const char *path, struct conf **out, char **first_error);
/* The same parser on a string (balloonctl vm set sends "[vm NAME]" and
 * its keys); label stands for the path in messages. */
int conf_parse_string(const char *label, const char *text, struct conf **out, char **first_error);
void conf_free(struct conf *c);

/* The effective settings for a VM: its own section merged over
 * [defaults]. Never NULL; every field set. */
struct conf_vm conf_vm_get(const struct conf *c, const char *vm_name);
/* own's set fields over base. */
struct conf_vm conf_vm_merge(const struct conf_vm *own, const struct conf_vm *base);
/* Reload: every [host] key that a reload may not change (the key table's
 * reloadable flag) gets its running value back in next; changed gets the
 * names of those that differed ("ksm, metrics"; empty: none). 0, or
 * -ENOMEM (next is then half updated: free it). */
int conf_keep_running(const struct conf *running, struct conf *next, char *changed, size_t len);
/* Resolve a conf_size against a base in bytes. */
uint64_t conf_size_resolve(const struct conf_size *s, uint64_t base_bytes);
