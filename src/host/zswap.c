/* zswap.c: zswap's parameters and pool figures (see zswap.h). Files we
 * wrote may lack the kernel's '\n' (fixture trees keep what was written),
 * so their line end is optional. */
#include "zswap.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sysfs.h"
#include "util.h"

/* Compressor names are short ("lzo-rle", "zstd"); a longer file is -EFBIG. */
#define COMPRESSOR_MAX 64

struct zswap_params {
    bool enabled;
    char compressor[COMPRESSOR_MAX];
    unsigned max_pool_pct;
};

struct zswap {
    char *sys_root, *proc_root;
    char *compressor;        /* NULL: leave the host's */
    unsigned max_pool_pct;   /* 0: leave the host's */
    size_t page_bytes;
    bool saved;              /* the host's settings below; ours may be in force */
    bool broken;             /* our change failed: do not retry it every tick */
    char host_enabled[8];
    char host_compressor[COMPRESSOR_MAX];
    char host_max_pool_pct[16];
};

int zswap_new(const char *sys_root, const char *proc_root, const char *compressor,
              unsigned max_pool_pct, size_t page_bytes, struct zswap **out)
{
    struct zswap *z = calloc(1, sizeof(*z));

    if (!z || !(z->sys_root = strdup(sys_root)) || !(z->proc_root = strdup(proc_root)) ||
        (compressor && *compressor && !(z->compressor = strdup(compressor)))) {
        zswap_free(z);
        return -ENOMEM;
    }
    z->max_pool_pct = max_pool_pct;
    z->page_bytes = page_bytes;
    *out = z;
    return 0;
}

void zswap_free(struct zswap *z)
{
    if (!z)
        return;
    free(z->sys_root);
    free(z->proc_root);
    free(z->compressor);
    free(z);
}

static int param_path(const struct zswap *z, const char *param, char *path)
{
    return sysfs_path(path, "%s/module/zswap/parameters/%s", z->sys_root, param);
}

static int param_read(const struct zswap *z, const char *param, char *buf, size_t size)
{
    char path[PATH_MAX];
    int r = param_path(z, param, path);

    return r < 0 ? r : sysfs_read_line(path, SYSFS_EOL_OPTIONAL, buf, size);
}

static int params_read(const struct zswap *z, struct zswap_params *out)
{
    char val[SYSFS_VALUE_MAX];
    struct zswap_params p;
    uint64_t pct;
    int r;

    if ((r = param_read(z, "enabled", val, sizeof(val))) < 0)
        return r;
    if (strcmp(val, "Y") != 0 && strcmp(val, "N") != 0)
        return -EINVAL;
    p.enabled = val[0] == 'Y';
    if ((r = param_read(z, "compressor", p.compressor, sizeof(p.compressor))) < 0 ||
        (r = param_read(z, "max_pool_percent", val, sizeof(val))) < 0)
        return r;
    if (p.compressor[0] == '\0' || parse_u64(val, &pct) < 0 || pct > 100)
        return -EINVAL;
    p.max_pool_pct = (unsigned)pct;
    *out = p;
    return 0;
}

void zswap_observe(const struct zswap *z, struct zswap_state *out)
{
    struct zswap_params p;
    bool readable = params_read(z, &p) == 0;

    *out = (struct zswap_state){
        .present = readable && !z->broken,
        .enabled = readable && p.enabled,
        .as_wanted = readable && !z->broken && p.enabled &&
                     (!z->compressor || strcmp(p.compressor, z->compressor) == 0) &&
                     (!z->max_pool_pct || p.max_pool_pct == z->max_pool_pct),
        .ours = z->saved,
    };
}

/* Write one parameter; *first_err keeps the first failure. */
static void param_write(struct zswap *z, const char *param, const char *value, int *first_err)
{
    char path[PATH_MAX];
    int r = param_path(z, param, path);

    if (r == 0)
        r = sysfs_write(path, value);
    if (r < 0 && *first_err == 0)
        *first_err = r;
}

int zswap_put_back(struct zswap *z)
{
    int r = 0;

    if (!z->saved)
        return 0;
    param_write(z, "compressor", z->host_compressor, &r);
    param_write(z, "max_pool_percent", z->host_max_pool_pct, &r);
    param_write(z, "enabled", z->host_enabled, &r);
    if (r < 0) {
        z->broken = true;  /* not every tick; compress_restore tries again */
        return r;
    }
    z->saved = false;
    log_info("compress: zswap back to enabled=%s compressor=%s max_pool_percent=%s",
             z->host_enabled, z->host_compressor, z->host_max_pool_pct);
    return 0;
}

static int save_host(struct zswap *z)
{
    struct zswap_params p;
    int r = params_read(z, &p);

    if (r < 0) {
        log_err("compress: zswap parameters under %s unreadable: %s", z->sys_root, strerror(-r));
        z->broken = true;
        return r;
    }
    snprintf(z->host_enabled, sizeof(z->host_enabled), "%c", p.enabled ? 'Y' : 'N');
    snprintf(z->host_compressor, sizeof(z->host_compressor), "%s", p.compressor);
    snprintf(z->host_max_pool_pct, sizeof(z->host_max_pool_pct), "%u", p.max_pool_pct);
    z->saved = true;
    return 0;
}

int zswap_enable(struct zswap *z)
{
    char path[PATH_MAX], pct[16];
    int r = 0;

    if (!z->saved && (r = save_host(z)) < 0)
        return r;
    /* Compressor and limit first, so that the pool created by enabled=Y
     * is already the configured one. */
    if (z->compressor && param_path(z, "compressor", path) == 0 &&
        write_file(path, z->compressor) < 0) {
        /* The kernel lacks it (zswap takes crypto API compressors: this
         * host's 6.18 has lzo and lzo-rle, no lz4). zswap with the host's
         * compressor still beats disk swap, so go on without ours. */
        log_warn("compress: zswap refuses compressor %s, keeping %s", z->compressor,
                 z->host_compressor);
        free(z->compressor);
        z->compressor = NULL;
    }
    snprintf(pct, sizeof(pct), "%u", z->max_pool_pct);
    if (z->max_pool_pct)
        param_write(z, "max_pool_percent", pct, &r);
    if (r == 0)
        param_write(z, "enabled", "Y", &r);
    if (r < 0) {
        zswap_put_back(z);
        z->broken = true;
        return r;
    }
    log_notice("compress: zswap enabled (compressor %s, pool at most %s%% of RAM)",
               z->compressor ? z->compressor : z->host_compressor,
               z->max_pool_pct ? pct : z->host_max_pool_pct);
    return 0;
}

/* debugfs' pool_total_size (bytes) and stored_pages. */
static int pool_debugfs(const struct zswap *z, uint64_t *out_pool_bytes, uint64_t *out_stored_bytes)
{
    char path[PATH_MAX];
    uint64_t pool, pages;

    if (sysfs_path(path, "%s/kernel/debug/zswap/pool_total_size", z->sys_root) < 0 ||
        sysfs_read_u64(path, SYSFS_EOL_OPTIONAL, &pool) < 0 ||
        sysfs_path(path, "%s/kernel/debug/zswap/stored_pages", z->sys_root) < 0 ||
        sysfs_read_u64(path, SYSFS_EOL_OPTIONAL, &pages) < 0 || pages > UINT64_MAX / z->page_bytes)
        return -ENOENT;
    *out_pool_bytes = pool;
    *out_stored_bytes = pages * z->page_bytes;
    return 0;
}

/* /proc/meminfo has had Zswap and Zswapped since Linux 5.19, and needs no
 * debugfs; older kernels only have debugfs, which is often not mounted
 * (it is not here). */
int zswap_pool(const struct zswap *z, uint64_t *out_pool_bytes, uint64_t *out_stored_bytes)
{
    static const char *const keys[] = { "Zswap", "Zswapped" };
    char path[PATH_MAX];
    uint64_t kib[2];
    unsigned found;

    if (sysfs_path(path, "%s/meminfo", z->proc_root) < 0 ||
        sysfs_read_keys(path, keys, 2, kib, &found) < 0 || found != 3 ||
        kib[0] > UINT64_MAX / KIB || kib[1] > UINT64_MAX / KIB)
        return pool_debugfs(z, out_pool_bytes, out_stored_bytes);
    *out_pool_bytes = kib[0] * KIB;
    *out_stored_bytes = kib[1] * KIB;
    return 0;
}
