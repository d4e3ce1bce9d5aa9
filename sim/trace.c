/* trace.c: see trace.h. */
#include "trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define TRACE_LINE_MAX 512

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

struct trace *trace_new(void)
{
    return calloc(1, sizeof(struct trace));
}

void trace_free(struct trace *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_vms; i++) {
        free(t->vms[i].name);
        free(t->vms[i].pts);
    }
    free(t->vms);
    free(t->slots);
    free(t);
}

/* Open addressing, kept at most half full. */
static int rehash(struct trace *t)
{
    size_t n = t->n_slots ? t->n_slots * 2 : 64;
    size_t *slots = calloc(n, sizeof(*slots));

    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < t->n_vms; i++) {
        size_t k = name_hash(t->vms[i].name) & (n - 1);
        while (slots[k])
            k = (k + 1) & (n - 1);
        slots[k] = i + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->n_slots = n;
    return 0;
}

static struct trace_series *series_get(struct trace *t, const char *vm)
{
    size_t k;

    if ((t->n_vms + 1) * 2 > t->n_slots && rehash(t) < 0)
        return NULL;
    for (k = name_hash(vm) & (t->n_slots - 1); t->slots[k]; k = (k + 1) & (t->n_slots - 1))
        if (strcmp(t->vms[t->slots[k] - 1].name, vm) == 0)
            return &t->vms[t->slots[k] - 1];
    if (t->n_vms == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        struct trace_series *p = realloc(t->vms, cap * sizeof(*p));
        if (!p)
            return NULL;
        t->vms = p;
        t->cap = cap;
    }
    struct trace_series *s = &t->vms[t->n_vms];
    *s = (struct trace_series){.name = strdup(vm)};
    if (!s->name)
        return NULL;
    t->slots[k] = ++t->n_vms;
    return s;
}

int trace_add(struct trace *t, const char *vm, uint64_t t_s, uint64_t anon_bytes,
              uint64_t cache_bytes)
{
    struct trace_series *s;

    if (!*vm)
        return -EINVAL;
    s = series_get(t, vm);
    if (!s)
        return -ENOMEM;
    if (s->n && t_s < s->pts[s->n - 1].t_s)
        return -EINVAL;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct trace_point *p = realloc(s->pts, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        s->pts = p;
        s->cap = cap;
    }
    s->pts[s->n++] = (struct trace_point){t_s, anon_bytes, cache_bytes};
    if (t_s > t->end_s)
        t->end_s = t_s;
    return 0;
}

/* Splits a CSV line in place into at most max fields; returns how many. */
static size_t split(char *line, char **f, size_t max)
{
    size_t n = 0;

    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line; n < max;) {
        f[n++] = p;
        p = strchr(p, ',');
        if (!p)
            break;
        *p++ = '\0';
    }
    for (size_t i = 0; i < n; i++) {
        while (*f[i] == ' ')
            f[i]++;
        for (char *e = f[i] + strlen(f[i]); e > f[i] && e[-1] == ' ';)
            *--e = '\0';
    }
    return n;
}

/* One data line; a message in why on failure. */
static int parse_line(struct trace *t, char *line, const char **why)
{
    char *f[5];
    size_t n = split(line, f, 5);
    uint64_t t_s, anon, cache = 0;
    int r;

    if (n < 3 || n > 4) {
        *why = "expected t_s,vm,anon_bytes[,cache_bytes]";
        return -EINVAL;
    }
    if (parse_u64(f[0], &t_s) < 0) {
        *why = "t_s is not a whole number of seconds";
        return -EINVAL;
    }
    if (size_parse(f[2], &anon) < 0 || (n == 4 && *f[3] && size_parse(f[3], &cache) < 0)) {
        *why = "anon_bytes and cache_bytes are sizes (bytes, or 512M, 1.5G)";
        return -EINVAL;
    }
    r = trace_add(t, f[1], t_s, anon, cache);
    if (r == -EINVAL)
        *why = *f[1] ? "time goes backwards for this VM" : "empty VM name";
    return r;
}

int trace_load(const char *path, struct trace **out)
{
    char line[TRACE_LINE_MAX];
    struct trace *t;
    unsigned lineno = 0;
    int r = 0;
    FILE *f = fopen(path, "re");

    if (!f) {
        r = -errno;
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return r;
    }
    t = trace_new();
    if (!t) {
        fclose(f);
        return -ENOMEM;
    }
    while (fgets(line, sizeof(line), f)) {
        const char *why = "out of memory";
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            fprintf(stderr, "%s:%u: line longer than %d characters\n", path, lineno, TRACE_LINE_MAX - 2);
            r = -EINVAL;
            break;
        }
        if (line[0] == '#' || line[strspn(line, " \r\n")] == '\0' ||
            (t->n_vms == 0 && strncmp(line, "t_s,", 4) == 0))
            continue;
        r = parse_line(t, line, &why);
        if (r < 0) {
            fprintf(stderr, "%s:%u: %s\n", path, lineno, why);
            break;
        }
    }
    if (r == 0 && ferror(f)) {
        fprintf(stderr, "%s: read error\n", path);
        r = -EIO;
    }
    if (r == 0 && t->n_vms == 0) {
        fprintf(stderr, "%s: no data lines\n", path);
        r = -EINVAL;
    }
    fclose(f);
    if (r < 0) {
        trace_free(t);
        return r;
    }
    *out = t;
    return 0;
}

int trace_series_at(const struct trace_series *s, size_t *cursor, uint64_t t_s,
                    uint64_t *anon_bytes, uint64_t *cache_bytes)
{
    size_t c = *cursor;

    if (s->n == 0 || t_s < s->pts[0].t_s)
        return 0;
    while (c + 1 < s->n && s->pts[c + 1].t_s <= t_s)
        c++;
    *cursor = c;
    *anon_bytes = s->pts[c].anon_bytes;
    *cache_bytes = s->pts[c].cache_bytes;
    return 1;
}
