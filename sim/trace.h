/* trace.h: per-VM demand traces, read from CSV (format: sim/README.md).
 *
 *     t_s,vm,anon_bytes,cache_bytes
 *     0,web,104857600,0
 *
 * A VM's demand is a step function: a point holds from its t_s until the
 * VM's next point, the last one for ever. A VM exists from its first
 * point on. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct trace_point {
    uint64_t t_s;
    uint64_t anon_bytes;   /* memory the guest cannot give up (its MemTotal - MemAvailable) */
    uint64_t cache_bytes;  /* page cache it would keep if it had room; reclaimable */
};

struct trace_series {
    char *name;
    struct trace_point *pts;
    size_t n, cap;
};

struct trace {
    struct trace_series *vms;
    size_t n_vms, cap;
    uint64_t end_s;        /* the latest point's time */
    size_t *slots;         /* name hash -> index + 1; 0 = empty */
    size_t n_slots;
};

struct trace *trace_new(void);
void trace_free(struct trace *t);
/* Appends a point. 0, -EINVAL when t_s is before the VM's last point (or
 * the name is empty), -ENOMEM. */
int trace_add(struct trace *t, const char *vm, uint64_t t_s, uint64_t anon_bytes,
              uint64_t cache_bytes);
/* Reads a CSV file. A bad line is reported as "FILE:LINE: what" on stderr
 * and fails the whole load (-EINVAL); -errno when the file cannot be read. */
int trace_load(const char *path, struct trace **out);

/* Sequential reading: the demand at t_s, for t_s not decreasing between
 * calls with the same cursor (start at 0). Returns 0 before the first
 * point (the VM does not exist yet), else 1. */
int trace_series_at(const struct trace_series *s, size_t *cursor, uint64_t t_s,
                    uint64_t *anon_bytes, uint64_t *cache_bytes);
