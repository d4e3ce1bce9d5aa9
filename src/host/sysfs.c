/* sysfs.c: paths, one-value files and key-value files (see sysfs.h). */
#include "sysfs.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

/* Measured (kernel 6.18): meminfo 1.5 KiB, status 1.4 KiB, v1 memory.stat
 * 1.2 KiB, vmstat 3.9 KiB. status grows with big machines' CPU and node
 * masks, vmstat with every kernel release: 16x margin over the largest. */
#define KEYS_FILE_MAX (64 * 1024)

int sysfs_path(char *out, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(out, PATH_MAX, fmt, ap);
    va_end(ap);
    return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

int sysfs_exists(const char *path)
{
    struct stat st;

    if (stat(path, &st) == 0)
        return 1;
    return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
}

int sysfs_read_line(const char *path, enum sysfs_eol eol, char *buf, size_t size)
{
    int n = read_file(path, buf, size);
    size_t len;

    if (n < 0)
        return n;
    len = strcspn(buf, "\n");
    if (buf[len] == '\0' ? eol == SYSFS_EOL_REQUIRED : buf[len + 1] != '\0')
        return -EINVAL; /* cut short, or more than one line */
    buf[len] = '\0';
    return 0;
}

int sysfs_read_u64(const char *path, enum sysfs_eol eol, uint64_t *out)
{
    char buf[SYSFS_VALUE_MAX];
    int r = sysfs_read_line(path, eol, buf, sizeof(buf));

    if (r < 0)
        return r;
    return parse_u64(buf, out) < 0 ? -EINVAL : 0;
}

/* sysfs_read_keys on text in buf; writes a NUL after each value it parses. */
static int keys_scan(char *buf, const char *const keys[], size_t n_keys, uint64_t vals[],
                     unsigned *found)
{
    uint64_t got[32]; /* n_keys <= 32: checked by the caller */
    unsigned lines = 0, seen = 0;
    char *line, *nl;

    for (line = buf; (nl = strchr(line, '\n')); line = nl + 1, lines++) {
        size_t key_len = strcspn(line, ": \t\n");
        char *v = line + key_len + strspn(line + key_len, ": \t");
        for (size_t i = 0; i < n_keys; i++) {
            if (strncmp(line, keys[i], key_len) != 0 || keys[i][key_len] != '\0')
                continue;
            v[strcspn(v, " \t\n")] = '\0';
            if (parse_u64(v, &got[i]) < 0)
                return -EINVAL;
            seen |= 1u << i;
            break;
        }
    }
    if (lines == 0)
        return -EINVAL;
    for (size_t i = 0; i < n_keys; i++)
        if (seen & 1u << i)
            vals[i] = got[i];
    *found = seen;
    return 0;
}

int sysfs_read_keys(const char *path, const char *const keys[], size_t n_keys, uint64_t vals[],
                    unsigned *found)
{
    char *buf;
    int r;

    if (n_keys > 32)
        return -EINVAL; /* one bit of *found each */
    if (!(buf = malloc(KEYS_FILE_MAX)))
        return -ENOMEM;
    r = read_file(path, buf, KEYS_FILE_MAX);
    if (r >= 0)
        r = keys_scan(buf, keys, n_keys, vals, found);
    free(buf);
    return r;
}

int sysfs_write(const char *path, const char *value)
{
    int r = write_file(path, value);

    if (r < 0)
        log_err("writing \"%s\" to %s: %s", value, path, strerror(-r));
    return r;
}
