/* zram.c: our zram swap device (see zram.h). */
#include "zram.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/swap.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sysfs.h"
#include "util.h"

extern char **environ;

/* union swap_header (include/linux/swap.h): bootbits[1024], then u32
 * version, last_page, nr_badpages; "SWAPSPACE2" in the page's last 10. */
#define SWAP_HDR_VERSION_OFF 1024
#define SWAP_HDR_LAST_PAGE_OFF 1028
#define SWAP_MAGIC "SWAPSPACE2"
#define SWAP_MAGIC_LEN 10
/* mm_stat is one line of 7 to 9 numbers of at most 20 digits. */
#define MM_STAT_MAX 256

struct zram {
    char *sys_root, *dev_root;
    bool real_sys;           /* modprobe only ever on the real /sys */
    char *algorithm;         /* NULL: the kernel's default */
    size_t page_bytes;
    struct zram_sys_ops ops;
    int id;                  /* N of zramN; -1: none of ours */
    bool swapped_on;
    bool broken;             /* creation failed once: do not retry every tick */
    bool modprobe_tried;
    bool module_loaded;      /* we loaded zram, so we unload it */
    uint64_t disk_bytes;
    int priority;
    char dev_path[PATH_MAX]; /* <dev>/zramN */
};

/* ---- parsers ---- */

int zram_parse_mm_stat(const char *text, struct zram_mm_stat *out)
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
    *out = (struct zram_mm_stat){ v[0], v[1], v[2] };
    return 0;
}

int zram_swap_header(unsigned char *page, size_t page_bytes, uint64_t dev_bytes)
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

static const struct zram_sys_ops real_ops = {
    .swapon = swapon,
    .swapoff = swapoff,
    .modprobe = real_modprobe,
};

/* ---- context ---- */

int zram_new(const char *sys_root, const char *dev_root, const char *algorithm,
             size_t page_bytes, struct zram **out)
{
    struct zram *z = calloc(1, sizeof(*z));

    if (!z || !(z->sys_root = strdup(sys_root)) || !(z->dev_root = strdup(dev_root)) ||
        (algorithm && *algorithm && !(z->algorithm = strdup(algorithm)))) {
        zram_free(z);
        return -ENOMEM;
    }
    z->real_sys = strcmp(sys_root, "/sys") == 0;
    z->page_bytes = page_bytes;
    z->ops = real_ops;
    z->id = -1;
    *out = z;
    return 0;
}

void zram_free(struct zram *z)
{
    if (!z)
        return;
    free(z->sys_root);
    free(z->dev_root);
    free(z->algorithm);
    free(z);
}

void zram_set_sys_ops(struct zram *z, const struct zram_sys_ops *ops)
{
    z->ops = ops ? *ops : real_ops;
}

static bool control_exists(const struct zram *z)
{
    char path[PATH_MAX];

    return sysfs_path(path, "%s/class/zram-control/hot_add", z->sys_root) == 0 &&
           sysfs_exists(path) == 1;
}

bool zram_available(const struct zram *z)
{
    return !z->broken && (control_exists(z) || (z->real_sys && !z->modprobe_tried));
}

int zram_id(const struct zram *z)
{
    return z->id;
}

uint64_t zram_disk_bytes(const struct zram *z)
{
    return z->disk_bytes;
}

bool zram_name(const struct zram *z, char *name, size_t size)
{
    return z->id >= 0 && snprintf(name, size, "zram%d", z->id) < (int)size;
}

/* ---- create and remove ---- */

/* <sys>/block/zramN/file for our device, or <sys>/class/zram-control/file. */
static int zram_write(const struct zram *z, bool control, const char *file, const char *value)
{
    char path[PATH_MAX];
    int r = control ? sysfs_path(path, "%s/class/zram-control/%s", z->sys_root, file)
                    : sysfs_path(path, "%s/block/zram%d/%s", z->sys_root, z->id, file);

    return r < 0 ? r : sysfs_write(path, value);
}

static int write_header(struct zram *z)
{
    const char *path = z->dev_path;
    unsigned char *page;
    ssize_t n;
    int fd, r;

    page = malloc(z->page_bytes);
    if (!page)
        return -ENOMEM;
    r = zram_swap_header(page, z->page_bytes, z->disk_bytes);
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
    n = pwrite(fd, page, z->page_bytes, 0);
    r = n < 0 ? -errno : (size_t)n != z->page_bytes ? -EIO : 0;
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
static void load_module(struct zram *z)
{
    /* num_devices=0: no zram0 of the module's own to clean up. */
    static const char *const load[] = { "modprobe", "zram", "num_devices=0", NULL };
    int r;

    if (!z->real_sys || z->modprobe_tried || control_exists(z))
        return;
    z->modprobe_tried = true;
    r = z->ops.modprobe(load);
    if (r == 0 && control_exists(z))
        z->module_loaded = true;
    else
        log_warn("compress: modprobe zram failed (%d): no zram", r);
}

int zram_remove(struct zram *z)
{
    static const char *const unload[] = { "modprobe", "-r", "zram", NULL };
    char id[16];
    int r;

    if (z->id < 0)
        return 0;
    if (z->swapped_on) {
        /* EINVAL: someone else already swapped it off. */
        if (z->ops.swapoff(z->dev_path) < 0 && errno != EINVAL) {
            r = -errno;
            log_err("compress: swapoff %s: %s", z->dev_path, strerror(-r));
            return r;
        }
        z->swapped_on = false;
    }
    snprintf(id, sizeof(id), "%d", z->id);
    if ((r = zram_write(z, false, "reset", "1")) < 0 ||
        (r = zram_write(z, true, "hot_remove", id)) < 0)
        return r;
    log_info("compress: zram%d removed", z->id);
    z->id = -1;
    if (z->module_loaded && z->ops.modprobe(unload) == 0)
        z->module_loaded = false;
    return 0;
}

static int setup(struct zram *z)
{
    char val[24];
    int r;

    if (z->algorithm && (r = zram_write(z, false, "comp_algorithm", z->algorithm)) < 0)
        return r;
    /* disksize last: it initialises the device, after which the
     * algorithm cannot change (EBUSY). */
    snprintf(val, sizeof(val), "%llu", (unsigned long long)z->disk_bytes);
    if ((r = zram_write(z, false, "disksize", val)) < 0 || (r = write_header(z)) < 0)
        return r;
    /* DISCARD: swap discards the clusters it frees, and zram frees the
     * memory behind a discard. */
    if (z->ops.swapon(z->dev_path, SWAP_FLAG_PREFER | SWAP_FLAG_DISCARD |
                                       ((z->priority << SWAP_FLAG_PRIO_SHIFT) & SWAP_FLAG_PRIO_MASK)) < 0) {
        r = -errno;
        log_err("compress: swapon %s: %s", z->dev_path, strerror(-r));
        return r;
    }
    z->swapped_on = true;
    return 0;
}

/* Reading hot_add creates a device and returns its number. */
static int hot_add(struct zram *z)
{
    char path[PATH_MAX], val[24];
    uint64_t id;
    int r;

    if ((r = sysfs_path(path, "%s/class/zram-control/hot_add", z->sys_root)) < 0)
        return r;
    r = sysfs_read_line(path, SYSFS_EOL_OPTIONAL, val, sizeof(val));
    if (r >= 0 && (parse_u64(val, &id) < 0 || id > INT_MAX))
        r = -EINVAL;
    if (r < 0) {
        log_err("compress: %s: %s", path, strerror(-r));
        return r;
    }
    z->id = (int)id;
    return 0;
}

int zram_create(struct zram *z, uint64_t bytes, int priority)
{
    char sz[SIZE_FMT_MAX];
    int r;

    if (z->id >= 0 || z->broken)
        return 0;
    load_module(z);
    if ((r = hot_add(z)) < 0) {
        z->broken = true;
        return r;
    }
    z->disk_bytes = bytes / z->page_bytes * z->page_bytes;
    z->priority = priority;
    r = sysfs_path(z->dev_path, "%s/zram%d", z->dev_root, z->id);
    if (r == 0)
        r = setup(z);
    if (r < 0) {
        z->broken = true;
        if (zram_remove(z) < 0)
            log_err("compress: zram%d left behind", z->id);
        return r;
    }
    log_notice("compress: zram%d: %s swap, %s, priority %d", z->id,
               size_format(z->disk_bytes, sz), z->algorithm ? z->algorithm : "default", priority);
    return 0;
}

int zram_read_mm_stat(const struct zram *z, struct zram_mm_stat *out)
{
    char path[PATH_MAX], text[MM_STAT_MAX];
    int r;

    if ((r = sysfs_path(path, "%s/block/zram%d/mm_stat", z->sys_root, z->id)) < 0 ||
        (r = read_file(path, text, sizeof(text))) < 0 || (r = zram_parse_mm_stat(text, out)) < 0)
        log_warn("compress: %s: %s", path, strerror(-r));
    return r;
}
