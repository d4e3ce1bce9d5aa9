/* compress.c: zswap in front of swap when the host has swap; a zram swap
 * device when it has none and is configured to get one. */
#include "compress.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/swap.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

extern char **environ;

/* Our zram is only created when there is no other swap, so this only has
 * to beat swap added later: the kernel gives swap enabled without a
 * priority -2, -3, ..., and systemd's fstab units none. 100 is also
 * zram-generator's choice. */
#define ZRAM_PRIORITY 100
/* union swap_header (include/linux/swap.h): bootbits[1024], then u32
 * version, last_page, nr_badpages; "SWAPSPACE2" in the page's last 10. */
#define SWAP_HDR_VERSION_OFF 1024
#define SWAP_HDR_LAST_PAGE_OFF 1028
#define SWAP_MAGIC "SWAPSPACE2"
#define SWAP_MAGIC_LEN 10

struct zswap_saved {
    bool saved;              /* the host's settings below; ours may be in force */
    bool broken;             /* our change failed: do not retry it every tick */
    char enabled[8];
    char compressor[64];
    char max_pool_pct[16];
};

struct zram_dev {
    int id;                  /* N of zramN; -1: none of ours */
    bool swapped_on;
    bool broken;             /* creation failed once: do not retry every tick */
    bool modprobe_tried;
    bool module_loaded;      /* we loaded zram, so we unload it */
    uint64_t disk_bytes;
    int priority;
    char dev_path[PATH_MAX]; /* <dev>/zramN */
};

struct compress {
    char *sys_root, *proc_root, *dev_root;
    bool real_sys;           /* modprobe only ever on the real /sys */
    bool zswap_wanted;
    char *zswap_compressor;  /* NULL: leave the host's */
    unsigned zswap_max_pool_pct;
    uint64_t zram_bytes;
    char *zram_algorithm;    /* NULL: the kernel's default */
    size_t page_bytes;
    struct compress_sys_ops ops;
    struct zswap_saved zswap;
    struct zram_dev zram;
};

/* ---- paths and small files ---- */

static __attribute__((format(printf, 3, 4))) int path_fmt(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* A sysfs value without its trailing newline. */
static int read_trimmed(const char *path, char *buf, size_t size)
{
    int n = read_file(path, buf, size);

    if (n < 0)
        return n;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return n;
}

static int zswap_path(const struct compress *c, const char *param, char *buf, size_t size)
{
    return path_fmt(buf, size, "%s/module/zswap/parameters/%s", c->sys_root, param);
}

static int zram_path(const struct compress *c, const char *attr, char *buf, size_t size)
{
    return path_fmt(buf, size, "%s/block/zram%d/%s", c->sys_root, c->zram.id, attr);
}

static int write_param(const char *path, const char *value)
{
    int r = write_file(path, value);

    if (r < 0)
        log_err("compress: writing \"%s\" to %s: %s", value, path, strerror(-r));
    return r;
}

/* ---- parsers ---- */

static bool is_zram_name(const char *base)
{
    return strncmp(base, "zram", 4) == 0 && base[4] &&
           strspn(base + 4, "0123456789") == strlen(base + 4);
}

static int parse_kib(const char *s, uint64_t *out_bytes)
{
    uint64_t kib;

    if (parse_u64(s, &kib) < 0 || kib > UINT64_MAX / KIB)
        return -EINVAL;
    *out_bytes = kib * KIB;
    return 0;
}

static int parse_int(const char *s, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < INT_MIN || v > INT_MAX)
        return -EINVAL;
    *out = (int)v;
    return 0;
}

/* One line of /proc/swaps: "Filename Type Size Used Priority". */
static int parse_swap_line(char *line, const char *our_name, struct compress_swaps *s)
{
    char *tok[5], *save = NULL, *base;
    uint64_t size_bytes, used_bytes;
    int prio;
    unsigned n = 0;

    for (char *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (n == ARRAY_SIZE(tok))
            return -EINVAL;
        tok[n++] = t;
    }
    if (n != ARRAY_SIZE(tok) || parse_kib(tok[2], &size_bytes) < 0 ||
        parse_kib(tok[3], &used_bytes) < 0 || parse_int(tok[4], &prio) < 0)
        return -EINVAL;
    base = strrchr(tok[0], '/');
    base = base ? base + 1 : tok[0];
    s->used_bytes += used_bytes;
    if (our_name && strcmp(base, our_name) == 0) {
        s->ours = true;
        s->ours_size_bytes = size_bytes;
        s->ours_used_bytes = used_bytes;
        s->ours_priority = prio;
        return 0;
    }
    if (s->disk_count + s->zram_count == 0 || prio > s->max_other_priority)
        s->max_other_priority = prio;
    if (is_zram_name(base))
        s->zram_count++;
    else
        s->disk_count++;
    return 0;
}

int compress_parse_swaps(const char *text, const char *our_name, struct compress_swaps *out)
{
    struct compress_swaps s = { 0 };
    const char *line, *nl;

    if (strncmp(text, "Filename", 8) != 0 || !(nl = strchr(text, '\n')))
        return -EINVAL;
    for (line = nl + 1; *line; line = nl + 1) {
        char buf[PATH_MAX + 128];
        size_t len;

        /* The kernel ends every line with '\n': one without is cut. */
        nl = strchr(line, '\n');
        if (!nl)
            return -EINVAL;
        len = (size_t)(nl - line);
        if (len >= sizeof(buf))
            return -EINVAL;
        memcpy(buf, line, len);
        buf[len] = '\0';
        if (parse_swap_line(buf, our_name, &s) < 0)
            return -EINVAL;
    }
    *out = s;
    return 0;
}

int compress_parse_mm_stat(const char *text, struct compress_mm_stat *out)
{
    char buf[512], *save = NULL;
    uint64_t v[3];
    unsigned n = 0;

    if (strlen(text) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, text);
    /* 7 fields since Linux 4.7, 8 since 4.19, 9 since 6.x: the first
     * three are all we use, the rest must still be numbers. */
    for (char *t = strtok_r(buf, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save), n++)
        if (parse_u64(t, n < ARRAY_SIZE(v) ? &v[n] : &(uint64_t){ 0 }) < 0)
            return -EINVAL;
    if (n < ARRAY_SIZE(v))
        return -EINVAL;
    *out = (struct compress_mm_stat){ v[0], v[1], v[2] };
    return 0;
}

int compress_swap_header(unsigned char *page, size_t page_bytes, uint64_t dev_bytes)
{
    uint64_t pages = page_bytes ? dev_bytes / page_bytes : 0;
    uint32_t version = 1, last_page;

    /* Page 0 is the header; the kernel refuses a swap area without one
     * page after it ("Empty swap-file"). last_page is a u32. */
    if (page_bytes < 4096 || pages < 2 || pages - 1 > UINT32_MAX)
        return -EINVAL;
    last_page = (uint32_t)(pages - 1);
    memset(page, 0, page_bytes);
    memcpy(page + SWAP_HDR_VERSION_OFF, &version, sizeof(version));
    memcpy(page + SWAP_HDR_LAST_PAGE_OFF, &last_page, sizeof(last_page));
    memcpy(page + page_bytes - SWAP_MAGIC_LEN, SWAP_MAGIC, SWAP_MAGIC_LEN);
    return 0;
}

/* /proc/meminfo "Key:   123 kB" -> bytes. -ENOENT when the key is absent. */
static int meminfo_bytes(const char *text, const char *key, uint64_t *out)
{
    size_t klen = strlen(key), len;
    const char *p = text;
    char num[24];

    while (strncmp(p, key, klen) != 0) {
        p = strchr(p, '\n');
        if (!p)
            return -ENOENT;
        p++;
    }
    p += klen;
    p += strspn(p, " ");
    len = strspn(p, "0123456789");
    if (len == 0 || len >= sizeof(num) || strncmp(p + len, " kB\n", 4) != 0)
        return -EINVAL;
    memcpy(num, p, len);
    num[len] = '\0';
    return parse_kib(num, out);
}

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

/* ---- real system calls ---- */

/* Blocks while modprobe runs (fork, exec, a module load), at most twice
 * in the daemon's life: when the first zram device is wanted (only where
 * zram is a module, as on Debian's kernels), and at exit. */
static int real_modprobe(const char *const argv[])
{
    pid_t pid;
    int status, r;

    r = posix_spawnp(&pid, "modprobe", NULL, NULL, (char *const *)argv, environ);
    if (r != 0)
        return -r;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static const struct compress_sys_ops real_ops = {
    .swapon = swapon,
    .swapoff = swapoff,
    .modprobe = real_modprobe,
};

/* ---- context ---- */

/* NULL or "" -> NULL; false when out of memory. */
static bool dup_opt(const char *s, char **out)
{
    *out = s && *s ? strdup(s) : NULL;
    return !(s && *s) || *out;
}

int compress_new(const char *sys_root, const char *proc_root, const char *dev_root,
                 const struct compress_conf *conf, struct compress **out)
{
    struct compress *c;
    long page = sysconf(_SC_PAGESIZE);

    if (conf->zswap_max_pool_pct > 100)
        return -EINVAL;
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->sys_root = strdup(sys_root);
    c->proc_root = strdup(proc_root);
    c->dev_root = strdup(dev_root);
    if (!c->sys_root || !c->proc_root || !c->dev_root ||
        !dup_opt(conf->zswap_compressor, &c->zswap_compressor) ||
        !dup_opt(conf->zram_algorithm, &c->zram_algorithm)) {
        compress_free(c);
        return -ENOMEM;
    }
    c->real_sys = strcmp(sys_root, "/sys") == 0;
    c->zswap_wanted = conf->zswap;
    c->zswap_max_pool_pct = conf->zswap_max_pool_pct;
    c->zram_bytes = conf->zram_bytes;
    c->page_bytes = page > 0 ? (size_t)page : 4096;
    c->ops = real_ops;
    c->zram.id = -1;
    *out = c;
    return 0;
}

void compress_free(struct compress *c)
{
    if (!c)
        return;
    free(c->sys_root);
    free(c->proc_root);
    free(c->dev_root);
    free(c->zswap_compressor);
    free(c->zram_algorithm);
    free(c);
}

void compress_set_sys_ops(struct compress *c, const struct compress_sys_ops *ops)
{
    c->ops = ops ? *ops : real_ops;
}

/* ---- observe ---- */

static int read_swaps(struct compress *c, struct compress_swaps *out)
{
    /* 32 swap areas at most (MAX_SWAPFILES) of one short line each. */
    char text[16384], path[PATH_MAX], our_name[24];
    int r;

    if ((r = path_fmt(path, sizeof(path), "%s/swaps", c->proc_root)) < 0 ||
        (r = read_file(path, text, sizeof(text))) < 0)
        return r;
    snprintf(our_name, sizeof(our_name), "zram%d", c->zram.id);
    r = compress_parse_swaps(text, c->zram.id >= 0 ? our_name : NULL, out);
    if (r < 0)
        log_warn("compress: %s: malformed", path);
    return r;
}

struct zswap_params {
    bool enabled;
    char compressor[64];
    unsigned max_pool_pct;
};

static int read_zswap(const struct compress *c, struct zswap_params *out)
{
    char path[PATH_MAX], val[64];
    struct zswap_params p;
    uint64_t pct;
    int r;

    if ((r = zswap_path(c, "enabled", path, sizeof(path))) < 0 ||
        (r = read_trimmed(path, val, sizeof(val))) < 0)
        return r;
    if (strcmp(val, "Y") != 0 && strcmp(val, "N") != 0)
        return -EINVAL;
    p.enabled = val[0] == 'Y';
    if ((r = zswap_path(c, "compressor", path, sizeof(path))) < 0 ||
        (r = read_trimmed(path, p.compressor, sizeof(p.compressor))) < 0)
        return r;
    if ((r = zswap_path(c, "max_pool_percent", path, sizeof(path))) < 0 ||
        (r = read_trimmed(path, val, sizeof(val))) < 0)
        return r;
    if (p.compressor[0] == '\0' || parse_u64(val, &pct) < 0 || pct > 100)
        return -EINVAL;
    p.max_pool_pct = (unsigned)pct;
    *out = p;
    return 0;
}

static bool zram_control_exists(const struct compress *c)
{
    char path[PATH_MAX];

    return path_fmt(path, sizeof(path), "%s/class/zram-control/hot_add", c->sys_root) == 0 &&
           access(path, F_OK) == 0;
}

int compress_observe(struct compress *c, enum host_state state, struct compress_input *out)
{
    struct compress_input in = { .state = state };
    struct compress_swaps swaps;
    struct zswap_params zp;
    int r;

    r = read_swaps(c, &swaps);
    if (r < 0)
        return r;
    in.zswap_wanted = c->zswap_wanted;
    in.zswap_present = !c->zswap.broken && read_zswap(c, &zp) == 0;
    in.zswap_as_wanted = in.zswap_present && zp.enabled &&
                         (!c->zswap_compressor || strcmp(zp.compressor, c->zswap_compressor) == 0) &&
                         (!c->zswap_max_pool_pct || zp.max_pool_pct == c->zswap_max_pool_pct);
    in.zswap_ours = c->zswap.saved;
    in.disk_swap = swaps.disk_count > 0;
    in.other_zram_swap = swaps.zram_count > 0;
    in.swap_used_bytes = swaps.used_bytes;
    in.zram_bytes = c->zram_bytes;
    in.zram_available = !c->zram.broken &&
                        (zram_control_exists(c) || (c->real_sys && !c->zram.modprobe_tried));
    in.zram_ours = c->zram.id >= 0;
    *out = in;
    return 0;
}

/* ---- zswap ---- */

/* Write one zswap parameter; *first_err keeps the first failure. */
static void zswap_write(struct compress *c, const char *param, const char *value, int *first_err)
{
    char path[PATH_MAX];
    int r = zswap_path(c, param, path, sizeof(path));

    if (r == 0)
        r = write_param(path, value);
    if (r < 0 && *first_err == 0)
        *first_err = r;
}

static int zswap_put_back(struct compress *c)
{
    int r = 0;

    if (!c->zswap.saved)
        return 0;
    zswap_write(c, "compressor", c->zswap.compressor, &r);
    zswap_write(c, "max_pool_percent", c->zswap.max_pool_pct, &r);
    zswap_write(c, "enabled", c->zswap.enabled, &r);
    if (r < 0) {
        c->zswap.broken = true;  /* not every tick; compress_restore tries again */
        return r;
    }
    c->zswap.saved = false;
    log_info("compress: zswap back to enabled=%s compressor=%s max_pool_percent=%s",
             c->zswap.enabled, c->zswap.compressor, c->zswap.max_pool_pct);
    return 0;
}

static int zswap_enable(struct compress *c)
{
    char path[PATH_MAX], pct[16];
    int r = 0;

    if (!c->zswap.saved) {
        struct zswap_params zp;
        r = read_zswap(c, &zp);
        if (r < 0) {
            log_err("compress: zswap parameters under %s unreadable: %s", c->sys_root, strerror(-r));
            c->zswap.broken = true;
            return r;
        }
        snprintf(c->zswap.enabled, sizeof(c->zswap.enabled), "%c", zp.enabled ? 'Y' : 'N');
        snprintf(c->zswap.compressor, sizeof(c->zswap.compressor), "%s", zp.compressor);
        snprintf(c->zswap.max_pool_pct, sizeof(c->zswap.max_pool_pct), "%u", zp.max_pool_pct);
        c->zswap.saved = true;
    }
    /* Compressor and limit first, so that the pool created by enabled=Y
     * is already the configured one. */
    if (c->zswap_compressor && zswap_path(c, "compressor", path, sizeof(path)) == 0 &&
        write_file(path, c->zswap_compressor) < 0) {
        /* The kernel lacks it (zswap takes crypto API compressors: this
         * host's 6.18 has lzo and lzo-rle, no lz4). zswap with the host's
         * compressor still beats disk swap, so go on without ours. */
        log_warn("compress: zswap refuses compressor %s, keeping %s", c->zswap_compressor,
                 c->zswap.compressor);
        free(c->zswap_compressor);
        c->zswap_compressor = NULL;
    }
    snprintf(pct, sizeof(pct), "%u", c->zswap_max_pool_pct);
    if (c->zswap_max_pool_pct)
        zswap_write(c, "max_pool_percent", pct, &r);
    if (r == 0)
        zswap_write(c, "enabled", "Y", &r);
    if (r < 0) {
        zswap_put_back(c);
        c->zswap.broken = true;
        return r;
    }
    log_notice("compress: zswap enabled (compressor %s, pool at most %s%% of RAM)",
               c->zswap_compressor ? c->zswap_compressor : c->zswap.compressor,
               c->zswap_max_pool_pct ? pct : c->zswap.max_pool_pct);
    return 0;
}

/* ---- zram ---- */

static int zram_write_header(struct compress *c)
{
    const char *path = c->zram.dev_path;
    unsigned char *page;
    ssize_t n;
    int fd, r;

    page = malloc(c->page_bytes);
    if (!page)
        return -ENOMEM;
    r = compress_swap_header(page, c->page_bytes, c->zram.disk_bytes);
    if (r < 0)
        goto free_page;
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        goto free_page;
    }
    /* One page into RAM: microseconds. mkswap would be a fork+exec that
     * the loop either waits for (110 ms cold, under 10 ms warm here) or
     * reaps through SIGCHLD, with the device half made in between. */
    n = pwrite(fd, page, c->page_bytes, 0);
    r = n < 0 ? -errno : (size_t)n != c->page_bytes ? -EIO : 0;
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    close(fd);
free_page:
    free(page);
    if (r < 0)
        log_err("compress: swap header on %s: %s", path, strerror(-r));
    return r;
}

/* Load the zram module when the kernel has it as one (Debian's). */
static void zram_load_module(struct compress *c)
{
    /* num_devices=0: no zram0 of the module's own to clean up. */
    static const char *const load[] = { "modprobe", "zram", "num_devices=0", NULL };
    int r;

    if (!c->real_sys || c->zram.modprobe_tried || zram_control_exists(c))
        return;
    c->zram.modprobe_tried = true;
    r = c->ops.modprobe(load);
    if (r == 0 && zram_control_exists(c))
        c->zram.module_loaded = true;
    else
        log_warn("compress: modprobe zram failed (%d): no zram", r);
}

/* swapoff, reset, hot_remove: the inverse of zram_create, from any step. */
static int zram_remove(struct compress *c)
{
    static const char *const unload[] = { "modprobe", "-r", "zram", NULL };
    char path[PATH_MAX], id[16];
    int r;

    if (c->zram.id < 0)
        return 0;
    if (c->zram.swapped_on) {
        /* EINVAL: someone else already swapped it off. */
        if (c->ops.swapoff(c->zram.dev_path) < 0 && errno != EINVAL) {
            r = -errno;
            log_err("compress: swapoff %s: %s", c->zram.dev_path, strerror(-r));
            return r;
        }
        c->zram.swapped_on = false;
    }
    if ((r = zram_path(c, "reset", path, sizeof(path))) < 0 || (r = write_param(path, "1")) < 0)
        return r;
    snprintf(id, sizeof(id), "%d", c->zram.id);
    if ((r = path_fmt(path, sizeof(path), "%s/class/zram-control/hot_remove", c->sys_root)) < 0 ||
        (r = write_param(path, id)) < 0)
        return r;
    log_info("compress: zram%d removed", c->zram.id);
    c->zram.id = -1;
    if (c->zram.module_loaded && c->ops.modprobe(unload) == 0)
        c->zram.module_loaded = false;
    return 0;
}

static int zram_setup(struct compress *c)
{
    char path[PATH_MAX], val[24];
    int r;

    if (c->zram_algorithm && ((r = zram_path(c, "comp_algorithm", path, sizeof(path))) < 0 ||
                              (r = write_param(path, c->zram_algorithm)) < 0))
        return r;
    /* disksize last: it initialises the device, after which the
     * algorithm cannot change (EBUSY). */
    snprintf(val, sizeof(val), "%llu", (unsigned long long)c->zram.disk_bytes);
    if ((r = zram_path(c, "disksize", path, sizeof(path))) < 0 || (r = write_param(path, val)) < 0)
        return r;
    if ((r = zram_write_header(c)) < 0)
        return r;
    /* DISCARD: swap discards the clusters it frees, and zram frees the
     * memory behind a discard. */
    if (c->ops.swapon(c->zram.dev_path, SWAP_FLAG_PREFER | SWAP_FLAG_DISCARD |
                                ((c->zram.priority << SWAP_FLAG_PRIO_SHIFT) & SWAP_FLAG_PRIO_MASK)) < 0) {
        r = -errno;
        log_err("compress: swapon %s: %s", c->zram.dev_path, strerror(-r));
        return r;
    }
    c->zram.swapped_on = true;
    return 0;
}

static int zram_create(struct compress *c, uint64_t bytes, int priority)
{
    char path[PATH_MAX], val[24], sz[SIZE_FMT_MAX];
    uint64_t id;
    int r;

    if (c->zram.id >= 0)
        return 0;
    zram_load_module(c);
    if ((r = path_fmt(path, sizeof(path), "%s/class/zram-control/hot_add", c->sys_root)) < 0)
        return r;
    /* Reading hot_add creates a device and returns its number. */
    r = read_trimmed(path, val, sizeof(val));
    if (r >= 0 && (parse_u64(val, &id) < 0 || id > INT_MAX))
        r = -EINVAL;
    if (r < 0) {
        log_err("compress: %s: %s", path, strerror(-r));
        c->zram.broken = true;
        return r;
    }
    c->zram.id = (int)id;
    c->zram.disk_bytes = bytes / c->page_bytes * c->page_bytes;
    c->zram.priority = priority;
    r = path_fmt(c->zram.dev_path, sizeof(c->zram.dev_path), "%s/zram%d", c->dev_root, c->zram.id);
    if (r == 0)
        r = zram_setup(c);
    if (r < 0) {
        c->zram.broken = true;
        if (zram_remove(c) < 0)
            log_err("compress: zram%d left behind", c->zram.id);
        return r;
    }
    log_notice("compress: zram%d: %s swap, %s, priority %d", c->zram.id,
               size_format(c->zram.disk_bytes, sz), c->zram_algorithm ? c->zram_algorithm : "default",
               priority);
    return 0;
}

/* ---- act, restore, sample ---- */

int compress_apply(struct compress *c, const struct compress_decision *d)
{
    int r = 0, k = 0;

    if (d->zswap == COMPRESS_ZSWAP_ENABLE)
        r = zswap_enable(c);
    else if (d->zswap == COMPRESS_ZSWAP_RESTORE)
        r = zswap_put_back(c);
    if (d->zram_create_bytes > 0 && !c->zram.broken)
        k = zram_create(c, d->zram_create_bytes, d->zram_priority);
    return r < 0 ? r : k;
}

int compress_restore(struct compress *c)
{
    int r = zram_remove(c), k = zswap_put_back(c);

    return r < 0 ? r : k;
}

/* Pool figures: /proc/meminfo has had Zswap and Zswapped since Linux
 * 5.19, and needs no debugfs; older kernels only have debugfs, which is
 * often not mounted (it is not here). */
static int zswap_pool(struct compress *c, uint64_t *out_pool_bytes, uint64_t *out_stored_bytes)
{
    char path[PATH_MAX], text[8192];
    uint64_t pool, stored, pages;

    if (path_fmt(path, sizeof(path), "%s/meminfo", c->proc_root) == 0 &&
        read_file(path, text, sizeof(text)) >= 0 && meminfo_bytes(text, "Zswap:", &pool) == 0 &&
        meminfo_bytes(text, "Zswapped:", &stored) == 0)
        goto found;
    if (path_fmt(path, sizeof(path), "%s/kernel/debug/zswap/pool_total_size", c->sys_root) < 0 ||
        read_trimmed(path, text, sizeof(text)) < 0 || parse_u64(text, &pool) < 0)
        return -ENOENT;
    if (path_fmt(path, sizeof(path), "%s/kernel/debug/zswap/stored_pages", c->sys_root) < 0 ||
        read_trimmed(path, text, sizeof(text)) < 0 || parse_u64(text, &pages) < 0 ||
        pages > UINT64_MAX / c->page_bytes)
        return -ENOENT;
    stored = pages * c->page_bytes;
found:
    *out_pool_bytes = pool;
    *out_stored_bytes = stored;
    return 0;
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
    struct zswap_params zp;
    char path[PATH_MAX], text[256];
    int r;

    s.zswap_enabled = read_zswap(c, &zp) == 0 && zp.enabled;
    s.zswap_known = zswap_pool(c, &s.zswap_pool_bytes, &s.zswap_stored_bytes) == 0;
    s.zswap_ratio = ratio(s.zswap_stored_bytes, s.zswap_pool_bytes);
    if (c->zram.id >= 0) {
        struct compress_swaps swaps;
        if ((r = zram_path(c, "mm_stat", path, sizeof(path))) < 0 ||
            (r = read_file(path, text, sizeof(text))) < 0 ||
            (r = compress_parse_mm_stat(text, &s.zram)) < 0) {
            log_warn("compress: %s: %s", path, strerror(-r));
            return r;
        }
        if ((r = read_swaps(c, &swaps)) < 0)
            return r;
        s.zram_id = c->zram.id;
        s.zram_disk_bytes = c->zram.disk_bytes;
        s.zram_used_bytes = swaps.ours_used_bytes;
        s.zram_ratio = ratio(s.zram.orig_bytes, s.zram.compr_bytes);
    }
    s.saved_bytes = gain(s.zswap_stored_bytes, s.zswap_pool_bytes) +
                    gain(s.zram.orig_bytes, s.zram.mem_used_bytes);
    *out = s;
    return 0;
}
