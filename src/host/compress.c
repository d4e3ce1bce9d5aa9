/* compress.c: the compression rung (see compress.h): zswap in front of
 * swap when the host has swap; a zram swap device when it has none and is
 * configured to get one. */
#include "compress.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "swaps.h"
#include "util.h"
#include "zswap.h"

/* Our zram is only created when there is no other swap, so this only has
 * to beat swap added later: the kernel gives swap enabled without a
 * priority -2, -3, ..., and systemd's fstab units none. 100 is also
 * zram-generator's choice. */
#define ZRAM_PRIORITY 100
/* "zram" and an int. */
#define ZRAM_NAME_MAX 24

struct compress {
    char *proc_root;
    bool zswap_wanted;
    uint64_t zram_bytes;
    struct zswap *zswap;
    struct zram *zram;
};

/* ---- the decision ---- */

void compress_decide(const struct compress_input *in, struct compress_decision *out)
{
    struct compress_decision d = { .zswap = COMPRESS_ZSWAP_NONE, .why = "nothing to do" };

    if (in->zswap_wanted && in->zswap_present) {
        if (in->zswap_ours) {
            /* Turning zswap off frees nothing: the pages in its pool stay
             * there until faulted in or written back, and a compressor
             * change while it holds pages leaves the old pool behind. So
             * the host's settings come back only once swap is empty. */
            if (in->swap_used_bytes == 0 && (in->state == HOST_PLENTY || !in->disk_swap)) {
                d.zswap = COMPRESS_ZSWAP_RESTORE;
                d.why = "zswap: swap is empty, host settings restored";
            }
        } else if (in->disk_swap && !in->zram_ours && !in->other_zram_swap &&
                   in->state >= HOST_TIGHT && !in->zswap_as_wanted) {
            /* From tight on, before the kernel starts writing anonymous
             * pages to disk: zswap changes nothing until a page is swapped
             * out, and then keeps it in RAM at half its size or less (2.0:1
             * with lzo-rle on test_zram.sh's pages, 1/3 random) instead of
             * a disk write now and a disk read later. Never in front of
             * zram: every page would be compressed twice. */
            d.zswap = COMPRESS_ZSWAP_ENABLE;
            d.why = "zswap: host tight or critical, with disk swap";
        }
    }

    /* zram only where there is no swap at all: behind disk swap zswap does
     * the job better (it writes cold pages on to disk, zram would hold them
     * forever at the highest priority), and a second zram is pointless.
     * Only when critical: a swap device where the operator configured none
     * makes every anonymous page (guest RAM included) a swap candidate and
     * costs CPU on each swap-out and fault; at tight, KSM and ballooning
     * idle guests free memory without that cost. Once created it stays
     * until exit (compress_restore): swapoff has to fault every stored
     * page back in, which is slow and needs the very memory that was
     * short. */
    if (in->zram_bytes > 0 && in->zram_available && !in->zram_ours && !in->disk_swap &&
        !in->other_zram_swap && in->state == HOST_CRITICAL) {
        d.zram_create_bytes = in->zram_bytes;
        d.zram_priority = ZRAM_PRIORITY;
        d.why = d.zswap == COMPRESS_ZSWAP_NONE ? "zram: host critical without swap"
                                               : "zswap restored; zram: host critical without swap";
    }
    *out = d;
}

const char *compress_zswap_action_name(enum compress_zswap_action a)
{
    static const char *const names[] = {
        [COMPRESS_ZSWAP_NONE] = "none", [COMPRESS_ZSWAP_ENABLE] = "enable",
        [COMPRESS_ZSWAP_RESTORE] = "restore",
    };
    return (unsigned)a < ARRAY_SIZE(names) ? names[a] : "?";
}

/* ---- context ---- */

int compress_new(const char *sys_root, const char *proc_root, const char *dev_root,
                 const struct compress_conf *conf, struct compress **out)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t page_bytes = page > 0 ? (size_t)page : 4096;
    struct compress *c;
    int r = -ENOMEM;

    if (conf->zswap_max_pool_pct > 100)
        return -EINVAL;
    if (!(c = calloc(1, sizeof(*c))) || !(c->proc_root = strdup(proc_root)))
        goto free_c;
    if ((r = zswap_new(sys_root, proc_root, conf->zswap_compressor, conf->zswap_max_pool_pct,
                       page_bytes, &c->zswap)) < 0 ||
        (r = zram_new(sys_root, dev_root, conf->zram_algorithm, page_bytes, &c->zram)) < 0)
        goto free_c;
    c->zswap_wanted = conf->zswap;
    c->zram_bytes = conf->zram_bytes;
    *out = c;
    return 0;
free_c:
    compress_free(c);
    return r;
}

void compress_free(struct compress *c)
{
    if (!c)
        return;
    zswap_free(c->zswap);
    zram_free(c->zram);
    free(c->proc_root);
    free(c);
}

void compress_set_sys_ops(struct compress *c, const struct zram_sys_ops *ops)
{
    zram_set_sys_ops(c->zram, ops);
}

/* ---- observe, act, restore, sample ---- */

static int read_swaps(const struct compress *c, struct swaps_info *out)
{
    char name[ZRAM_NAME_MAX];

    return swaps_read(c->proc_root, zram_name(c->zram, name, sizeof(name)) ? name : NULL, out);
}

int compress_observe(struct compress *c, enum host_state state, struct compress_input *out)
{
    struct swaps_info swaps;
    struct zswap_state zs;
    int r = read_swaps(c, &swaps);

    if (r < 0)
        return r;
    zswap_observe(c->zswap, &zs);
    *out = (struct compress_input){
        .state = state,
        .zswap_wanted = c->zswap_wanted,
        .zswap_present = zs.present,
        .zswap_as_wanted = zs.as_wanted,
        .zswap_ours = zs.ours,
        .disk_swap = swaps.disk_count > 0,
        .other_zram_swap = swaps.zram_count > 0,
        .swap_used_bytes = swaps.used_bytes,
        .zram_bytes = c->zram_bytes,
        .zram_available = zram_available(c->zram),
        .zram_ours = zram_id(c->zram) >= 0,
    };
    return 0;
}

int compress_apply(struct compress *c, const struct compress_decision *d)
{
    int r = 0, k = 0;

    if (d->zswap == COMPRESS_ZSWAP_ENABLE)
        r = zswap_enable(c->zswap);
    else if (d->zswap == COMPRESS_ZSWAP_RESTORE)
        r = zswap_put_back(c->zswap);
    if (d->zram_create_bytes > 0)
        k = zram_create(c->zram, d->zram_create_bytes, d->zram_priority);
    return r < 0 ? r : k;
}

int compress_restore(struct compress *c)
{
    int r = zram_remove(c->zram), k = zswap_put_back(c->zswap);

    return r < 0 ? r : k;
}

static double ratio(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : 0;
}

static uint64_t gain(uint64_t stored, uint64_t cost)
{
    return stored > cost ? stored - cost : 0;
}

int compress_sample(struct compress *c, struct compress_stats *out)
{
    struct compress_stats s = { .zram_id = -1 };
    struct zswap_state zs;
    int r;

    zswap_observe(c->zswap, &zs);
    s.zswap_enabled = zs.enabled;
    s.zswap_known = zswap_pool(c->zswap, &s.zswap_pool_bytes, &s.zswap_stored_bytes) == 0;
    s.zswap_ratio = ratio(s.zswap_stored_bytes, s.zswap_pool_bytes);
    if (zram_id(c->zram) >= 0) {
        struct swaps_info swaps;
        if ((r = zram_read_mm_stat(c->zram, &s.zram)) < 0 || (r = read_swaps(c, &swaps)) < 0)
            return r;
        s.zram_id = zram_id(c->zram);
        s.zram_disk_bytes = zram_disk_bytes(c->zram);
        s.zram_used_bytes = swaps.ours_used_bytes;
        s.zram_ratio = ratio(s.zram.orig_bytes, s.zram.compr_bytes);
    }
    s.saved_bytes = gain(s.zswap_stored_bytes, s.zswap_pool_bytes) +
                    gain(s.zram.orig_bytes, s.zram.mem_used_bytes);
    *out = s;
    return 0;
}
