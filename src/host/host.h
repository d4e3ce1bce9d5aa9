/* host.h: the host's side of sampling. Readers for /proc and the budget
 * cgroup (v1 and v2). Every path is built from roots given at _new(), so
 * tests run the same code on fixture trees. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct host_meminfo {
    uint64_t total_kib;
    uint64_t free_kib;
    uint64_t avail_kib;
    uint64_t buffers_kib;
    uint64_t cached_kib;
    uint64_t swap_total_kib;
    uint64_t swap_free_kib;
};

/* One line of /proc/pressure/memory (or a cgroup's memory.pressure). */
struct host_psi_line {
    double avg10, avg60, avg300;
    uint64_t total_us;
};
struct host_psi {
    struct host_psi_line some, full;
};

struct host_vmstat {
    uint64_t pswpin;
    uint64_t pswpout;
    uint64_t pgmajfault;
};

enum host_cgroup_version { HOST_CGROUP_V1 = 1, HOST_CGROUP_V2 = 2 };

struct host_cgroup_mem {
    uint64_t limit_bytes;         /* UINT64_MAX when unlimited ("max", or v1's huge value) */
    uint64_t usage_bytes;         /* memory.current / memory.usage_in_bytes */
    uint64_t inactive_file_bytes; /* from memory.stat (v1: total_inactive_file) */
    uint64_t oom_kills;           /* v2 memory.events oom_kill; v1 memory.oom_control oom_kill */
    bool has_psi;                 /* v2 only: memory.pressure */
    struct host_psi psi;
};

/* Parsers on a path. Return 0 or -errno (-ENOENT missing, -EINVAL
 * malformed or truncated: a key that is required is absent). */
int host_read_meminfo(const char *path, struct host_meminfo *out);
int host_read_psi(const char *path, struct host_psi *out);
int host_read_vmstat(const char *path, struct host_vmstat *out);
/* VmRSS of /proc/PID/status under proc_root, in bytes. */
int host_read_proc_rss(const char *proc_root, pid_t pid, uint64_t *out_rss_bytes);

/* Budget cgroup: dir is the cgroup's directory (v1: .../memory/NAME,
 * v2: .../NAME). The version is detected from the files present. */
struct host_cgroup;
int host_cgroup_open(const char *dir, struct host_cgroup **out);
void host_cgroup_free(struct host_cgroup *cg);
enum host_cgroup_version host_cgroup_version(const struct host_cgroup *cg);
const char *host_cgroup_dir(const struct host_cgroup *cg);
int host_cgroup_read(const struct host_cgroup *cg, struct host_cgroup_mem *out);

/* The host context: roots and the optional budget cgroup. */
struct host;
struct host_sample {
    struct host_meminfo mem;
    bool has_psi;
    struct host_psi psi;
    struct host_vmstat vmstat;
    bool has_cgroup;
    struct host_cgroup_mem cgroup;
};
/* proc_root: normally "/proc"; cgroup_dir may be NULL. */
int host_new(const char *proc_root, const char *cgroup_dir, struct host **out);
void host_free(struct host *h);
const char *host_proc_root(const struct host *h);
/* Reads everything; a missing PSI file is not an error (has_psi false),
 * a missing or malformed meminfo is. */
int host_sample(struct host *h, struct host_sample *out);
