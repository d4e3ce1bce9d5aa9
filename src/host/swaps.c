/* swaps.c: the /proc/swaps parser (see swaps.h). */
#include "swaps.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sysfs.h"
#include "util.h"

/* 32 swap areas at most (MAX_SWAPFILES) of one short line each. */
#define SWAPS_FILE_MAX 16384

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
static int parse_line(char *line, const char *our_name, struct swaps_info *s)
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

int swaps_parse(const char *text, const char *our_name, struct swaps_info *out)
{
    struct swaps_info s = { 0 };
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
        if (parse_line(buf, our_name, &s) < 0)
            return -EINVAL;
    }
    *out = s;
    return 0;
}

int swaps_read(const char *proc_root, const char *our_name, struct swaps_info *out)
{
    char path[PATH_MAX], text[SWAPS_FILE_MAX];
    int r;

    if ((r = sysfs_path(path, "%s/swaps", proc_root)) < 0 ||
        (r = read_file(path, text, sizeof(text))) < 0)
        return r;
    r = swaps_parse(text, our_name, out);
    if (r < 0)
        log_warn("compress: %s: malformed", path);
    return r;
}
