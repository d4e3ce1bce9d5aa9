/* zswap.h: zswap's module parameters (enabled, compressor, pool limit):
 * read them, set ours after saving the host's, put the host's back; and
 * the pool's size for the report. The compression rung (compress.h)
 * decides when. Paths are built from the roots given to zswap_new(). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct zswap;

/* What compress_observe() and compress_sample() need to know. */
struct zswap_state {
    bool present;    /* the parameters are readable and our last change did not fail */
    bool enabled;    /* enabled=Y (whoever set it) */
    bool as_wanted;  /* present, enabled, with the configured compressor and limit */
    bool ours;       /* our settings are in force, the host's saved */
};

/* compressor NULL or "": leave the host's; max_pool_pct 0: leave the
 * host's. page_bytes converts debugfs' stored_pages. Reads nothing. */
int zswap_new(const char *sys_root, const char *proc_root, const char *compressor,
              unsigned max_pool_pct, size_t page_bytes, struct zswap **out);
/* Does not put the host's settings back (zswap_put_back() does). */
void zswap_free(struct zswap *z);

void zswap_observe(const struct zswap *z, struct zswap_state *out);
/* Save the host's settings (first time), set ours, enabled=Y. A compressor
 * the kernel refuses is dropped with a warning. On failure puts back what
 * it changed and does not try again (zswap_observe: not present). Logs. */
int zswap_enable(struct zswap *z);
/* The host's settings back, when ours are in force. Idempotent. Logs. */
int zswap_put_back(struct zswap *z);
/* RAM the pool takes and what it holds, uncompressed: -ENOENT unknown. */
int zswap_pool(const struct zswap *z, uint64_t *out_pool_bytes, uint64_t *out_stored_bytes);
