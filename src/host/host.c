/* host.c: readers for /proc and the budget cgroup (see host.h).
 *
 * Every multi-line file here is "key[:] value [unit]" lines (meminfo,
 * vmstat, status, memory.stat, memory.events, memory.oom_control), read by
 * sysfs_read_keys(): a last line cut short is ignored, so a required key
 * on it is missing (-EINVAL). */
#include "host.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "sysfs.h"
#include "util.h"

/* Two PSI lines are ~100 bytes. */
#define PSI_FILE_MAX 1024
/* v1 reports "no limit" as PAGE_COUNTER_MAX pages (9223372036854771712 with
 * 4 KiB pages, less with larger pages); no real limit comes near 2^62. */
#define V1_UNLIMITED_MIN (1ULL << 62)

struct host_cgroup {
    enum host_cgroup_version version;
    char *dir;
};

struct host {
    char *proc_root;
    struct host_cgroup *cgroup; /* NULL when no budget cgroup */
};

/* sysfs_read_keys on dir/name. */
static int keys_at(const char *dir, const char *name, const char *const keys[], size_t n_keys,
                   uint64_t vals[], unsigned *found)
{
    char path[PATH_MAX];
    int r = sysfs_path(path, "%s/%s", dir, name);

    return r < 0 ? r : sysfs_read_keys(path, keys, n_keys, vals, found);
}

/* A one-value cgroup file such as memory.current; "max" is UINT64_MAX. */
static int value_read(const char *dir, const char *name, uint64_t *out)
{
    char path[PATH_MAX], buf[SYSFS_VALUE_MAX];
    int r;

    if ((r = sysfs_path(path, "%s/%s", dir, name)) < 0 ||
        (r = sysfs_read_line(path, SYSFS_EOL_OPTIONAL, buf, sizeof(buf))) < 0)
        return r;
    if (strcmp(buf, "max") == 0) {
        *out = UINT64_MAX;
        return 0;
    }
    return parse_u64(buf, out) < 0 ? -EINVAL : 0;
}

int host_read_meminfo(const char *path, struct host_meminfo *out)
{
    enum { TOTAL, FREE, AVAIL, BUFFERS, CACHED, SWAP_TOTAL, SWAP_FREE, N };
    static const char *const keys[N] = { "MemTotal", "MemFree", "MemAvailable", "Buffers",
                                         "Cached", "SwapTotal", "SwapFree" };
    const unsigned required = 1u << TOTAL | 1u << FREE | 1u << AVAIL;
    uint64_t v[N] = {0};
    unsigned found;
    int r = sysfs_read_keys(path, keys, N, v, &found);

    if (r < 0)
        return r;
    if ((found & required) != required)
        return -EINVAL;
    *out = (struct host_meminfo){ v[TOTAL], v[FREE], v[AVAIL], v[BUFFERS], v[CACHED],
                                  v[SWAP_TOTAL], v[SWAP_FREE] };
    return 0;
}

int host_read_vmstat(const char *path, struct host_vmstat *out)
{
    enum { PSWPIN, PSWPOUT, PGMAJFAULT, N };
    static const char *const keys[N] = { "pswpin", "pswpout", "pgmajfault" };
    uint64_t v[N] = {0};
    unsigned found;
    int r = sysfs_read_keys(path, keys, N, v, &found);

    if (r < 0)
        return r;
    *out = (struct host_vmstat){ v[PSWPIN], v[PSWPOUT], v[PGMAJFAULT] };
    return 0;
}

/* /proc/PID/statm ("size resident shared ..." in pages): a tenth of the
 * text /proc/PID/status makes the kernel write, read for every managed
 * VM every tick. */
int host_read_proc_rss(const char *proc_root, pid_t pid, uint64_t *out_rss_bytes)
{
    char path[PATH_MAX], line[256], *end;
    unsigned long long size, pages;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    int r;

    /* Read every few ticks for every VM: one read(2), not to EOF. */
    if ((r = sysfs_path(path, "%s/%d/statm", proc_root, (int)pid)) < 0 ||
        (r = read_file_once(path, line, sizeof(line))) < 0)
        return r;
    if (r == 0 || line[r - 1] != '\n')
        return -EINVAL;
    errno = 0;
    size = strtoull(line, &end, 10);
    if (end == line || *end != ' ')
        return -EINVAL;
    pages = strtoull(end + 1, &end, 10);
    if (errno || (*end != ' ' && *end != '\0' && *end != '\n'))
        return -EINVAL;
    if (size == 0)
        return -ENODATA; /* a kernel thread: no memory of its own */
    if (pages > UINT64_MAX / page)
        return -ERANGE;
    *out_rss_bytes = pages * page;
    return 0;
}

/* "avg10=0.00 avg60=0.00 avg300=0.00 total=0", after "some " or "full ".
 * Averages are percentages; the total (us) is never negative. */
static int psi_line(const char *s, struct host_psi_line *out)
{
    struct host_psi_line p;
    int end = -1;

    sscanf(s, "avg10=%lf avg60=%lf avg300=%lf total=%" SCNu64 "%n", &p.avg10, &p.avg60,
           &p.avg300, &p.total_us, &end);
    if (end < 0 || s[end] != '\0' || strchr(s, '-') || !(p.avg10 >= 0 && p.avg10 <= 100) ||
        !(p.avg60 >= 0 && p.avg60 <= 100) || !(p.avg300 >= 0 && p.avg300 <= 100))
        return -EINVAL;
    *out = p;
    return 0;
}

int host_read_psi(const char *path, struct host_psi *out)
{
    struct host_psi psi = {0};
    char buf[PSI_FILE_MAX], *line, *nl;
    bool have_some = false, have_full = false;
    int r = read_file(path, buf, sizeof(buf));

    if (r < 0)
        return r;
    /* Unlike the key-value files, a partial line here is malformed: it
     * cannot be an absent "full" line (only cpu lacked that, before 5.13). */
    for (line = buf; *line; line = nl + 1) {
        bool some = strncmp(line, "some ", 5) == 0, full = strncmp(line, "full ", 5) == 0;
        bool *have = some ? &have_some : &have_full;
        if (!(nl = strchr(line, '\n')) || !(some || full) || *have)
            return -EINVAL;
        *nl = '\0';
        if (psi_line(line + 5, some ? &psi.some : &psi.full) < 0)
            return -EINVAL;
        *have = true;
    }
    if (!have_some)
        return -EINVAL; /* a missing "full" reads as zeros */
    *out = psi;
    return 0;
}

/* No PSI is not an error: CONFIG_PSI off, psi=0 or cgroup.pressure=0
 * (the file is hidden), a kernel before 4.20, or one that shows the file
 * but fails the read with EOPNOTSUPP when PSI is disabled. */
static int psi_read_optional(const char *path, struct host_psi *out, bool *out_has)
{
    int r = host_read_psi(path, out);

    if (r < 0 && r != -ENOENT && r != -EOPNOTSUPP)
        return r;
    *out_has = r == 0;
    return 0;
}

/* 1 when dir/name exists, 0 when not, or -errno. */
static int file_exists(const char *dir, const char *name)
{
    char path[PATH_MAX];
    int r = sysfs_path(path, "%s/%s", dir, name);

    return r < 0 ? r : sysfs_exists(path);
}

int host_cgroup_open(const char *dir, struct host_cgroup **out)
{
    struct host_cgroup *cg;
    int v1 = 0, v2;

    if ((v2 = file_exists(dir, "memory.max")) < 0)
        return v2;
    if (!v2 && (v1 = file_exists(dir, "memory.limit_in_bytes")) <= 0)
        return v1 < 0 ? v1 : -ENOENT;
    cg = calloc(1, sizeof(*cg));
    if (!cg || !(cg->dir = strdup(dir))) {
        free(cg);
        return -ENOMEM;
    }
    cg->version = v2 ? HOST_CGROUP_V2 : HOST_CGROUP_V1;
    *out = cg;
    return 0;
}

void host_cgroup_free(struct host_cgroup *cg)
{
    if (!cg)
        return;
    free(cg->dir);
    free(cg);
}

enum host_cgroup_version host_cgroup_version(const struct host_cgroup *cg)
{
    return cg->version;
}

const char *host_cgroup_dir(const struct host_cgroup *cg)
{
    return cg->dir;
}

static int cgroup_read_v1(const struct host_cgroup *cg, struct host_cgroup_mem *m)
{
    /* total_ counts the whole subtree; setups without hierarchy lack it. */
    static const char *const stat_keys[] = { "total_inactive_file", "inactive_file" };
    static const char *const oom_keys[] = { "oom_kill" }; /* since Linux 4.13 */
    uint64_t inactive[2] = {0};
    unsigned found;
    int r;

    if ((r = value_read(cg->dir, "memory.limit_in_bytes", &m->limit_bytes)) < 0 ||
        (r = value_read(cg->dir, "memory.usage_in_bytes", &m->usage_bytes)) < 0 ||
        (r = keys_at(cg->dir, "memory.stat", stat_keys, 2, inactive, &found)) < 0)
        return r;
    if (!found)
        return -EINVAL;
    m->inactive_file_bytes = found & 1 ? inactive[0] : inactive[1];
    if (m->limit_bytes >= V1_UNLIMITED_MIN)
        m->limit_bytes = UINT64_MAX;
    return keys_at(cg->dir, "memory.oom_control", oom_keys, 1, &m->oom_kills, &found);
}

static int cgroup_read_v2(const struct host_cgroup *cg, struct host_cgroup_mem *m)
{
    static const char *const stat_keys[] = { "inactive_file" };
    static const char *const event_keys[] = { "oom_kill" }; /* since Linux 4.13 */
    char path[PATH_MAX];
    unsigned found;
    int r;

    if ((r = value_read(cg->dir, "memory.max", &m->limit_bytes)) < 0 ||
        (r = value_read(cg->dir, "memory.current", &m->usage_bytes)) < 0 ||
        (r = keys_at(cg->dir, "memory.stat", stat_keys, 1, &m->inactive_file_bytes, &found)) < 0)
        return r;
    if (!found)
        return -EINVAL;
    if ((r = keys_at(cg->dir, "memory.events", event_keys, 1, &m->oom_kills, &found)) < 0 ||
        (r = sysfs_path(path, "%s/memory.pressure", cg->dir)) < 0)
        return r;
    return psi_read_optional(path, &m->psi, &m->has_psi);
}

int host_cgroup_read(const struct host_cgroup *cg, struct host_cgroup_mem *out)
{
    struct host_cgroup_mem m = {0};
    int r = cg->version == HOST_CGROUP_V2 ? cgroup_read_v2(cg, &m) : cgroup_read_v1(cg, &m);

    if (r < 0)
        return r;
    *out = m;
    return 0;
}

int host_new(const char *proc_root, const char *cgroup_dir, struct host **out)
{
    struct host *h = calloc(1, sizeof(*h));
    int r = -ENOMEM;

    if (!h || !(h->proc_root = strdup(proc_root ? proc_root : "/proc")))
        goto free_host;
    if (cgroup_dir && (r = host_cgroup_open(cgroup_dir, &h->cgroup)) < 0)
        goto free_host;
    *out = h;
    return 0;
free_host:
    host_free(h);
    return r;
}

void host_free(struct host *h)
{
    if (!h)
        return;
    host_cgroup_free(h->cgroup);
    free(h->proc_root);
    free(h);
}

const char *host_proc_root(const struct host *h)
{
    return h->proc_root;
}

int host_sample(struct host *h, struct host_sample *out)
{
    struct host_sample s = {0};
    char path[PATH_MAX];
    int r;

    if ((r = sysfs_path(path, "%s/meminfo", h->proc_root)) < 0 ||
        (r = host_read_meminfo(path, &s.mem)) < 0 ||
        (r = sysfs_path(path, "%s/vmstat", h->proc_root)) < 0 ||
        (r = host_read_vmstat(path, &s.vmstat)) < 0 ||
        (r = sysfs_path(path, "%s/pressure/memory", h->proc_root)) < 0)
        return r;
    if ((r = psi_read_optional(path, &s.psi, &s.has_psi)) < 0)
        return r;
    if (h->cgroup) {
        if ((r = host_cgroup_read(h->cgroup, &s.cgroup)) < 0)
            return r;
        s.has_cgroup = true;
    }
    *out = s;
    return 0;
}
