/* ksm.c: KSM counters and knobs, ksmd, per-process savings (see ksm.h).
 *
 * Every sysfs file read here is one value and a '\n', the way the kernel
 * writes it; a file without the '\n' was cut short, its value may be a
 * prefix of the real one, and it is -EINVAL like any other malformed file. */
#include "ksm.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sysfs.h"
#include "util.h"

/* /proc/PID/stat is ~300 bytes; comm can make it 16 longer. */
#define STAT_MAX 1024
/* /proc/PID/ksm_stat is 6 short lines (~150 bytes) on Linux 6.18. */
#define KSM_STAT_MAX 1024
/* ksmd is a kernel thread: its parent is kthreadd, PID 2. A user process
 * that calls itself "ksmd" has another parent. */
#define KTHREADD_PID 2

enum knob { K_RUN, K_PAGES, K_SLEEP, K_ADV_MODE, K_ADV_TIME, K_ADV_CPU, K_N };

static const char *const knob_file[K_N] = {
    [K_RUN] = "run",
    [K_PAGES] = "pages_to_scan",
    [K_SLEEP] = "sleep_millisecs",
    [K_ADV_MODE] = "advisor_mode",
    [K_ADV_TIME] = "advisor_target_scan_time",
    [K_ADV_CPU] = "advisor_max_cpu",
};

struct ksm {
    char dir[PATH_MAX];   /* <sys>/kernel/mm/ksm */
    char proc[PATH_MAX];  /* <proc> */
    long clk_tck;
    uint64_t page_bytes;
    pid_t ksmd_pid;       /* 0: not found */
    struct {
        bool saved;
        char value[SYSFS_VALUE_MAX];
    } orig[K_N];
};

/* ---- small readers -------------------------------------------------------- */

static int parse_s64(const char *s, int64_t *out)
{
    char *end;
    long long v;

    if (!s || !(isdigit((unsigned char)*s) || (*s == '-' && isdigit((unsigned char)s[1]))))
        return -EINVAL;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end != '\0')
        return -EINVAL;
    *out = v;
    return 0;
}

/* "[none] scan-time" -> "none". A lone word is taken as it is: that is
 * what a plain file holds after ksm_apply() wrote it (the fixture trees). */
static int advisor_word(char *buf)
{
    char *open = strchr(buf, '['), *close = open ? strchr(open, ']') : NULL;

    if (!open)
        return *buf && !strpbrk(buf, " \t]") ? 0 : -EINVAL;
    if (!close || close == open + 1)
        return -EINVAL;
    *close = '\0';
    memmove(buf, open + 1, (size_t)(close - open));
    return 0;
}

static enum ksm_advisor advisor_parse(const char *word)
{
    if (strcmp(word, "none") == 0)
        return KSM_ADVISOR_NONE;
    if (strcmp(word, "scan-time") == 0)
        return KSM_ADVISOR_SCAN_TIME;
    return KSM_ADVISOR_OTHER;
}

/* A knob's current value as written back to it (the bracketed word for
 * advisor_mode). */
static int knob_read(const struct ksm *k, enum knob n, char buf[SYSFS_VALUE_MAX])
{
    char path[PATH_MAX];
    int r = sysfs_path(path, "%s/%s", k->dir, knob_file[n]);

    if (r == 0)
        r = sysfs_read_line(path, SYSFS_EOL_REQUIRED, buf, SYSFS_VALUE_MAX);
    if (r == 0 && n == K_ADV_MODE)
        r = advisor_word(buf);
    return r;
}

/* With the '\n' that echo would add. */
static int knob_write(const struct ksm *k, enum knob n, const char *value)
{
    char path[PATH_MAX], line[SYSFS_VALUE_MAX + 1];
    int r;

    if ((r = sysfs_path(path, "%s/%s", k->dir, knob_file[n])) < 0)
        return r;
    snprintf(line, sizeof(line), "%s\n", value);
    return write_file(path, line);
}

/* ---- ksmd ------------------------------------------------------------------ */

/* utime + stime (fields 14, 15) and the parent (field 4) from
 * <proc>/PID/stat. Fields are counted after the last ')': comm may hold
 * spaces and parentheses. */
static int stat_read(const char *proc, pid_t pid, uint64_t *ticks, uint64_t *ppid)
{
    char path[PATH_MAX], buf[STAT_MAX], *p, *tok, *save = NULL;
    uint64_t v[16] = {0};
    unsigned field = 3;
    int r;

    if ((r = sysfs_path(path, "%s/%d/stat", proc, (int)pid)) < 0)
        return r;
    if ((r = read_file(path, buf, sizeof(buf))) < 0)
        return r;
    if (!(p = strrchr(buf, ')')))
        return -EINVAL;
    for (tok = strtok_r(p + 1, " \n", &save); tok && field <= 15;
         tok = strtok_r(NULL, " \n", &save), field++) {
        if ((field == 4 || field == 14 || field == 15) && parse_u64(tok, &v[field]) < 0)
            return -EINVAL;
    }
    if (field <= 15)
        return -EINVAL;
    *ticks = v[14] + v[15];
    *ppid = v[4];
    return 0;
}

/* The PID of the kernel thread called ksmd, or -ENOENT. */
static pid_t ksmd_find(const char *proc)
{
    char path[PATH_MAX], comm[SYSFS_VALUE_MAX];
    uint64_t ticks, ppid;
    struct dirent *e;
    pid_t found = -ENOENT;
    DIR *d = opendir(proc);

    if (!d)
        return -errno;
    while (found < 0 && (e = readdir(d))) {
        uint64_t pid;
        if (parse_u64(e->d_name, &pid) < 0 || pid == 0 || pid > INT_MAX)
            continue;
        if (sysfs_path(path, "%s/%s/comm", proc, e->d_name) < 0 ||
            sysfs_read_line(path, SYSFS_EOL_REQUIRED, comm, sizeof(comm)) < 0 || strcmp(comm, "ksmd") != 0)
            continue;
        if (stat_read(proc, (pid_t)pid, &ticks, &ppid) == 0 && ppid == KTHREADD_PID)
            found = (pid_t)pid;
    }
    closedir(d);
    return found;
}

/* ---- context ---------------------------------------------------------------- */

int ksm_new(const char *sys_root, const char *proc_root, struct ksm **out)
{
    char path[PATH_MAX];
    struct ksm *k;
    long page;
    pid_t pid;
    int r;

    if (!(k = calloc(1, sizeof(*k))))
        return -ENOMEM;
    if ((r = sysfs_path(k->dir, "%s/kernel/mm/ksm", sys_root)) < 0 ||
        (r = sysfs_path(k->proc, "%s", proc_root)) < 0 ||
        (r = sysfs_path(path, "%s/run", k->dir)) < 0)
        goto free_k;
    if ((r = sysfs_exists(path)) <= 0) {
        r = r < 0 ? r : -ENOENT;
        goto free_k;
    }
    k->clk_tck = sysconf(_SC_CLK_TCK);
    if (k->clk_tck <= 0)
        k->clk_tck = 100;
    page = sysconf(_SC_PAGESIZE);
    k->page_bytes = page > 0 ? (uint64_t)page : 4096;
    pid = ksmd_find(k->proc);
    if (pid > 0)
        k->ksmd_pid = pid;
    else
        log_info("ksm: no ksmd thread in %s (%s): its CPU time is not measured", k->proc,
                 strerror(-pid));
    *out = k;
    return 0;
free_k:
    free(k);
    return r;
}

void ksm_free(struct ksm *k)
{
    free(k);
}

/* ---- sample ------------------------------------------------------------------ */

/* An optional file: 1 read, 0 absent, -EINVAL malformed. */
static int read_optional(const struct ksm *k, const char *file, char buf[SYSFS_VALUE_MAX])
{
    char path[PATH_MAX];
    int r = sysfs_path(path, "%s/%s", k->dir, file);

    if (r == 0)
        r = sysfs_read_line(path, SYSFS_EOL_REQUIRED, buf, SYSFS_VALUE_MAX);
    return r == -ENOENT ? 0 : r < 0 ? r : 1;
}

static int optional_u64(const struct ksm *k, const char *file, uint64_t *v, bool *has)
{
    char buf[SYSFS_VALUE_MAX];
    int r = read_optional(k, file, buf);

    if (r <= 0)
        return r;
    if (parse_u64(buf, v) < 0)
        return -EINVAL;
    if (has)
        *has = true;
    return 0;
}

/* Files of newer kernels. *bad names the file that failed. */
static int sample_optional(const struct ksm *k, struct ksm_counters *c, const char **bad)
{
    char buf[SYSFS_VALUE_MAX];
    int r;

    if ((r = optional_u64(k, *bad = "pages_scanned", &c->pages_scanned,
                          &c->has_pages_scanned)) < 0)
        return r;
    if ((r = read_optional(k, *bad = "general_profit", buf)) < 0)
        return r;
    if (r > 0) {
        if (parse_s64(buf, &c->general_profit_bytes) < 0)
            return -EINVAL;
        c->has_general_profit = true;
    }
    if ((r = read_optional(k, *bad = "advisor_mode", buf)) <= 0)
        return r;
    if (advisor_word(buf) < 0)
        return -EINVAL;
    c->advisor = advisor_parse(buf);
    if ((r = optional_u64(k, *bad = "advisor_target_scan_time", &c->advisor_target_scan_time_s,
                          NULL)) < 0)
        return r;
    return optional_u64(k, *bad = "advisor_max_cpu", &c->advisor_max_cpu_pct, NULL);
}

int ksm_sample(struct ksm *k, struct ksm_counters *out)
{
    struct ksm_counters c = { .advisor = KSM_ADVISOR_ABSENT };
    const struct {
        const char *file;
        uint64_t *v;
    } required[] = {
        { "run", &c.run },
        { "pages_to_scan", &c.pages_to_scan },
        { "sleep_millisecs", &c.sleep_ms },
        { "pages_shared", &c.pages_shared },
        { "pages_sharing", &c.pages_sharing },
        { "pages_unshared", &c.pages_unshared },
        { "pages_volatile", &c.pages_volatile },
        { "full_scans", &c.full_scans },
    };
    char path[PATH_MAX];
    const char *bad = NULL;
    uint64_t ticks, ppid;
    int r;

    for (size_t i = 0; i < ARRAY_SIZE(required); i++) {
        bad = required[i].file;
        if ((r = sysfs_path(path, "%s/%s", k->dir, bad)) < 0 ||
            (r = sysfs_read_u64(path, SYSFS_EOL_REQUIRED, required[i].v)) < 0)
            goto fail;
    }
    if ((r = sample_optional(k, &c, &bad)) < 0)
        goto fail;
    if (k->ksmd_pid > 0) {
        r = stat_read(k->proc, k->ksmd_pid, &ticks, &ppid);
        if (r == 0 && ppid == KTHREADD_PID) {
            c.has_ksmd_cpu = true;
            c.ksmd_cpu_ms = ticks * 1000 / (uint64_t)k->clk_tck;
        } else {
            log_warn("ksm: ksmd (pid %d) is gone from %s: its CPU time is no longer measured",
                     (int)k->ksmd_pid, k->proc);
            k->ksmd_pid = 0;
        }
    }
    *out = c;
    return 0;
fail:
    log_err("ksm: %s/%s: %s", k->dir, bad, r == -EINVAL ? "malformed" : strerror(-r));
    return r;
}

/* ---- act -------------------------------------------------------------------- */

/* Sets knob n to value unless it holds it already; the first change
 * records the original. Switching advisor_mode rewrites pages_to_scan
 * (the kernel's default, or advisor_min_pages_to_scan), so that
 * original is recorded too. */
static int knob_set(struct ksm *k, enum knob n, const char *value)
{
    char now[SYSFS_VALUE_MAX];
    int r;

    if ((r = knob_read(k, n, now)) < 0) {
        log_err("ksm: %s/%s: %s", k->dir, knob_file[n],
                r == -EINVAL ? "malformed" : strerror(-r));
        return r;
    }
    if (strcmp(now, value) == 0)
        return 0;
    if (n == K_ADV_MODE && !k->orig[K_PAGES].saved &&
        knob_read(k, K_PAGES, k->orig[K_PAGES].value) == 0)
        k->orig[K_PAGES].saved = true;
    if (!k->orig[n].saved) {
        snprintf(k->orig[n].value, sizeof(k->orig[n].value), "%s", now);
        k->orig[n].saved = true;
    }
    if ((r = knob_write(k, n, value)) < 0) {
        log_err("ksm: cannot set %s/%s to %s: %s", k->dir, knob_file[n], value, strerror(-r));
        return r;
    }
    log_info("ksm: %s %s -> %s", knob_file[n], now, value);
    return 0;
}

static int knob_set_u64(struct ksm *k, enum knob n, uint64_t v)
{
    char s[SYSFS_VALUE_MAX];

    snprintf(s, sizeof(s), "%" PRIu64, v);
    return knob_set(k, n, s);
}

int ksm_apply(struct ksm *k, const struct ksm_decision *d)
{
    char mode[SYSFS_VALUE_MAX];
    bool has_advisor;
    int r;

    if (d->run > 1)
        return -EINVAL;
    r = knob_read(k, K_ADV_MODE, mode);
    if (r < 0 && r != -ENOENT)
        return r;
    has_advisor = r == 0;
    if (d->use_advisor && !has_advisor)
        return -EOPNOTSUPP;
    /* Stop before anything else changes, start after everything has. */
    if (d->run == 0 && (r = knob_set(k, K_RUN, "0")) < 0)
        return r;
    if (has_advisor && d->use_advisor) {
        if ((d->advisor_target_scan_time_s &&
             (r = knob_set_u64(k, K_ADV_TIME, d->advisor_target_scan_time_s)) < 0) ||
            (d->advisor_max_cpu_pct &&
             (r = knob_set_u64(k, K_ADV_CPU, d->advisor_max_cpu_pct)) < 0) ||
            (r = knob_set(k, K_ADV_MODE, "scan-time")) < 0)
            return r;
    } else if (has_advisor && (r = knob_set(k, K_ADV_MODE, "none")) < 0) {
        return r;
    }
    /* With the advisor on, the kernel refuses pages_to_scan (-EINVAL). */
    if (!d->use_advisor && d->pages_to_scan &&
        (r = knob_set_u64(k, K_PAGES, d->pages_to_scan)) < 0)
        return r;
    if (d->sleep_ms && (r = knob_set_u64(k, K_SLEEP, d->sleep_ms)) < 0)
        return r;
    if (d->run == 1 && (r = knob_set(k, K_RUN, "1")) < 0)
        return r;
    return 0;
}

bool ksm_unmerge_fits(uint64_t pages_sharing, uint64_t page_bytes, uint64_t free_bytes)
{
    /* pages_sharing * page_bytes, without overflowing */
    return page_bytes == 0 || pages_sharing <= free_bytes / page_bytes;
}

/* MemAvailable (or MemFree on kernels before 3.14) from <proc>/meminfo. */
static int mem_available_bytes(const struct ksm *k, uint64_t *out)
{
    static const char *const keys[] = { "MemAvailable", "MemFree" };
    char path[PATH_MAX];
    uint64_t kib[2];
    unsigned found, i;
    int r;

    if ((r = sysfs_path(path, "%s/meminfo", k->proc)) < 0 ||
        (r = sysfs_read_keys(path, keys, 2, kib, &found)) < 0)
        return r;
    i = found & 1 ? 0 : 1;
    if (!found || kib[i] > UINT64_MAX / KIB)
        return -EINVAL;
    *out = kib[i] * KIB;
    return 0;
}

/* Restoring run=2 unmerges every merged page at once: only when they fit. */
static int restore_run(struct ksm *k)
{
    char path[PATH_MAX];
    uint64_t sharing = 0, avail = 0;
    const char *value = k->orig[K_RUN].value;
    int r = 0, w;

    if (strcmp(value, "2") == 0) {
        if ((r = sysfs_path(path, "%s/pages_sharing", k->dir)) == 0)
            r = sysfs_read_u64(path, SYSFS_EOL_REQUIRED, &sharing);
        if (r == 0)
            r = mem_available_bytes(k, &avail);
        if (r < 0 || !ksm_unmerge_fits(sharing, k->page_bytes, avail)) {
            log_warn("ksm: not restoring run=2: unmerging %" PRIu64 " pages (%" PRIu64
                     " MiB) needs more than the %" PRIu64 " MiB available%s; run=0 instead, "
                     "merged pages stay merged",
                     sharing, (uint64_t)(sharing * k->page_bytes / MIB), (uint64_t)(avail / MIB),
                     r < 0 ? " (unknown)" : "");
            value = "0";
            r = -ENOMEM;
        }
    }
    w = knob_write(k, K_RUN, value);
    return w < 0 ? w : r;
}

int ksm_restore(struct ksm *k)
{
    static const enum knob order[] = { K_ADV_TIME, K_ADV_CPU, K_ADV_MODE, K_PAGES, K_SLEEP, K_RUN };
    char mode[SYSFS_VALUE_MAX];
    int first = 0;

    for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
        enum knob n = order[i];
        int r;

        if (!k->orig[n].saved)
            continue;
        if (n == K_PAGES && knob_read(k, K_ADV_MODE, mode) == 0 && strcmp(mode, "none") != 0) {
            /* The original advisor owns pages_to_scan again. */
            k->orig[n].saved = false;
            continue;
        }
        r = n == K_RUN ? restore_run(k) : knob_write(k, n, k->orig[n].value);
        if (r < 0 && !(n == K_RUN && r == -ENOMEM))
            log_err("ksm: cannot restore %s/%s to %s: %s", k->dir, knob_file[n],
                    k->orig[n].value, strerror(-r));
        else
            k->orig[n].saved = false;
        if (r < 0 && first == 0)
            first = r;
    }
    return first;
}

/* ---- report ------------------------------------------------------------------ */

int ksm_proc_savings(const char *proc_root, pid_t pid, uint64_t *merging_pages,
                     int64_t *profit_bytes)
{
    char path[PATH_MAX], buf[KSM_STAT_MAX], *line, *nl;
    uint64_t merging;
    int64_t profit = 0;
    bool has_profit = false;
    int r;

    if ((r = sysfs_path(path, "%s/%d/ksm_merging_pages", proc_root, (int)pid)) < 0 ||
        (r = sysfs_read_u64(path, SYSFS_EOL_REQUIRED, &merging)) < 0)
        return r;
    if ((r = sysfs_path(path, "%s/%d/ksm_stat", proc_root, (int)pid)) < 0)
        return r;
    r = read_file(path, buf, sizeof(buf));
    if (r < 0 && r != -ENOENT)
        return r;
    for (line = buf; r >= 0 && (nl = strchr(line, '\n')); line = nl + 1) {
        static const char key[] = "ksm_process_profit ";
        *nl = '\0';
        if (strncmp(line, key, sizeof(key) - 1) != 0)
            continue;
        if (parse_s64(line + sizeof(key) - 1, &profit) < 0)
            return -EINVAL;
        has_profit = true;
    }
    *merging_pages = merging;
    if (!has_profit)
        return 1;
    *profit_bytes = profit;
    return 0;
}
