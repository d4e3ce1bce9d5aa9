/* compress.h: the compression rung of the host reclaim cascade (issue 4,
 * point 2). With a swap device present it manages zswap (enabled,
 * compressor, pool limit); without one it can create a zram swap device
 * of a configured size, used before any other swap. It reports the pool
 * sizes and compression ratios, and restores what it changed.
 *
 * One tick: compress_observe() (I/O) -> compress_decide() (pure) ->
 * compress_apply() (I/O); compress_sample() for reporting;
 * compress_restore() on exit. The actuators are zswap.h and zram.h, the
 * swap devices come from swaps.h.
 *
 * Every path is built from the roots given to compress_new() (normally
 * "/sys", "/proc", "/dev"), so the tests run the same code on fixture
 * trees. Functions return 0 or a negative errno and write their outputs
 * only on success. compress_apply() and compress_restore() log their own
 * failures (with the path concerned): callers need not log them again. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "types.h"
#include "zram.h"

struct compress_conf {
    bool zswap;                    /* manage zswap when a (non-zram) swap device exists */
    const char *zswap_compressor;  /* NULL or "": leave the host's (also when the
                                    * kernel refuses it: a warning, zswap still on) */
    unsigned zswap_max_pool_pct;   /* 0: leave the host's; else 1..100 */
    uint64_t zram_bytes;           /* 0 = no zram */
    const char *zram_algorithm;    /* NULL or "": the kernel's default */
};

/* The facts compress_decide() needs; compress_observe() fills them. */
struct compress_input {
    enum host_state state;
    /* zswap */
    bool zswap_wanted;        /* conf.zswap */
    bool zswap_present;       /* the kernel has zswap and our last change did not fail */
    bool zswap_as_wanted;     /* already enabled with the configured compressor and limit */
    bool zswap_ours;          /* our settings are in force, originals saved */
    /* swap */
    bool disk_swap;           /* a swap device or file other than zram */
    bool other_zram_swap;     /* a zram swap device that is not ours */
    uint64_t swap_used_bytes; /* on all swap */
    /* zram */
    uint64_t zram_bytes;      /* conf.zram_bytes; 0 = never */
    bool zram_available;      /* zram-control exists (or modprobe may load it) */
    bool zram_ours;           /* our device exists */
};

enum compress_zswap_action {
    COMPRESS_ZSWAP_NONE,
    COMPRESS_ZSWAP_ENABLE,    /* save the host's settings, set ours, enabled=Y */
    COMPRESS_ZSWAP_RESTORE,   /* put the host's settings back */
};

struct compress_decision {
    enum compress_zswap_action zswap;
    uint64_t zram_create_bytes;  /* 0: create nothing */
    int zram_priority;           /* swap priority for the new device */
    const char *why;             /* static text for the event log */
};

struct compress_stats {
    bool zswap_enabled;
    bool zswap_known;            /* pool figures were readable */
    uint64_t zswap_pool_bytes;   /* RAM the pool takes */
    uint64_t zswap_stored_bytes; /* what it holds, uncompressed */
    double zswap_ratio;          /* stored / pool; 0 when empty */
    int zram_id;                 /* our device's N in zramN; -1: none */
    uint64_t zram_disk_bytes;
    uint64_t zram_used_bytes;    /* swap in use on it (/proc/swaps) */
    struct zram_mm_stat zram;
    double zram_ratio;           /* orig / compr; 0 when empty */
    uint64_t saved_bytes;        /* (stored - pool) + (orig - mem_used), each at least 0 */
};

struct compress;

/* Roots are copied, and so is c (its strings too). -EINVAL for a pool
 * limit above 100 %. Reads nothing: the host may change before the first
 * tick. */
int compress_new(const char *sys_root, const char *proc_root, const char *dev_root,
                 const struct compress_conf *c, struct compress **out);
/* Frees; does not restore (call compress_restore() first). NULL is fine. */
void compress_free(struct compress *c);
/* NULL: the real syscalls and modprobe. */
void compress_set_sys_ops(struct compress *c, const struct zram_sys_ops *ops);

/* Read /proc/swaps, the zswap parameters and whether zram exists. */
int compress_observe(struct compress *c, enum host_state state, struct compress_input *out);
/* The pure decision; see compress.c for the reasons behind each rule. */
void compress_decide(const struct compress_input *in, struct compress_decision *out);
/* Act on a decision. Records the host's settings before the first change;
 * on failure undoes the partial change and does not retry that part. */
int compress_apply(struct compress *c, const struct compress_decision *d);
/* swapoff our zram, reset and remove it, put zswap's settings back.
 * Idempotent. swapoff pages every stored page back into RAM: it blocks
 * for as long as that takes, which is why only exit calls it. */
int compress_restore(struct compress *c);
int compress_sample(struct compress *c, struct compress_stats *out);

const char *compress_zswap_action_name(enum compress_zswap_action a);
