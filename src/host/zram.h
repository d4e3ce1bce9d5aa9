/* zram.h: one zram swap device of ours: created (hot_add, algorithm,
 * disksize, swap header, swapon) and removed again (swapoff, reset,
 * hot_remove), loading the zram module when the kernel has it as one.
 * The compression rung (compress.h) decides when. Paths are built from
 * the roots given to zram_new(). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The first fields of <sys>/block/zramN/mm_stat, in bytes. */
struct zram_mm_stat {
    uint64_t orig_bytes;      /* data stored, uncompressed */
    uint64_t compr_bytes;     /* the same, compressed */
    uint64_t mem_used_bytes;  /* what the device costs, allocator overhead included */
};

/* Swap syscalls and module loading, replaceable so that the unit tests
 * check the sysfs writes without touching the host's swap. */
struct zram_sys_ops {
    int (*swapon)(const char *path, int flags);   /* 0 or -1 with errno, as swapon(2) */
    int (*swapoff)(const char *path);
    int (*modprobe)(const char *const argv[]);    /* exit status, or -errno */
};

struct zram;

/* algorithm NULL or "": the kernel's default. Reads nothing. */
int zram_new(const char *sys_root, const char *dev_root, const char *algorithm,
             size_t page_bytes, struct zram **out);
/* Does not remove the device (zram_remove() does). NULL is fine. */
void zram_free(struct zram *z);
/* NULL: the real syscalls and modprobe. */
void zram_set_sys_ops(struct zram *z, const struct zram_sys_ops *ops);

/* Whether a device could be made: zram-control exists, or modprobe may
 * still load it; false after a failed creation. */
bool zram_available(const struct zram *z);
/* Our device's N in zramN, or -1. */
int zram_id(const struct zram *z);
uint64_t zram_disk_bytes(const struct zram *z);
/* "zramN" into name (at least 24 bytes); false when there is no device. */
bool zram_name(const struct zram *z, char *name, size_t size);

/* A device of bytes (rounded down to pages) swapped on at priority. Does
 * nothing when ours exists or an earlier creation failed. On failure
 * removes what it made and does not try again. Logs. */
int zram_create(struct zram *z, uint64_t bytes, int priority);
/* swapoff, reset, hot_remove (and unload the module if we loaded it), from
 * any step of zram_create. Idempotent. swapoff pages every stored page
 * back into RAM: it blocks for as long as that takes. Logs. */
int zram_remove(struct zram *z);
int zram_read_mm_stat(const struct zram *z, struct zram_mm_stat *out);

/* Parser and the swap header, exported for the tests. */
int zram_parse_mm_stat(const char *text, struct zram_mm_stat *out);
/* Fill page (page_bytes long) with a v1 swap header for a device of
 * dev_bytes: the kernel ABI of union swap_header, include/linux/swap.h. */
int zram_swap_header(unsigned char *page, size_t page_bytes, uint64_t dev_bytes);
