/* sysfs.h: the one reader of /proc, /sys and cgroup files, for host, KSM
 * and the compression rung. Callers build every path from a root given to
 * them (normally "/proc" or "/sys"), so the tests run the same code on
 * fixture trees.
 *
 * Functions return 0 or -errno: -ENOENT for a missing file, -EINVAL for a
 * malformed or truncated one, -EFBIG for one larger than the caller's
 * buffer, -ENAMETOOLONG for a path over PATH_MAX. Outputs are written only
 * on success. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A one-value sysfs file is at most 20 digits and its '\n';
 * advisor_mode is "[none] scan-time". */
#define SYSFS_VALUE_MAX 64

/* printf into out (PATH_MAX bytes): "%s/kernel/mm/ksm/%s", root, name. */
__attribute__((format(printf, 2, 3))) int sysfs_path(char *out, const char *fmt, ...);

/* 1 when path exists, 0 when it (or a directory on the way) does not. */
int sysfs_exists(const char *path);

/* How a one-value file must end. The kernel ends every value with '\n';
 * a file without it was cut short, unless it is one we wrote ourselves
 * without one (a fixture tree after an earlier write). */
enum sysfs_eol {
    SYSFS_EOL_REQUIRED,  /* no '\n': -EINVAL (its value may be a prefix) */
    SYSFS_EOL_OPTIONAL,
};

/* The one line of a one-value file, without its '\n'. More than one line
 * is -EINVAL. */
int sysfs_read_line(const char *path, enum sysfs_eol eol, char *buf, size_t size);
/* The same, as a decimal number. */
int sysfs_read_u64(const char *path, enum sysfs_eol eol, uint64_t *out);

/* A "key[:] value [unit]" file (meminfo, vmstat, PID/status, memory.stat,
 * memory.events, memory.oom_control): for each complete line whose key is
 * keys[i] (at most 32 keys), vals[i] gets its number and bit i of *found
 * is set. The unit is not looked at (meminfo's is always kB). A wanted key
 * with a bad value, or a file without one complete line, is -EINVAL; a
 * last line without '\n' was cut short and is ignored. */
int sysfs_read_keys(const char *path, const char *const keys[], size_t n_keys, uint64_t vals[],
                    unsigned *found);

/* util's write_file(), logging a failure with the path and the value: for
 * knobs whose callers only need to know that the change failed. */
int sysfs_write(const char *path, const char *value);
