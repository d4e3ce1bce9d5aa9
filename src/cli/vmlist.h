/* vmlist.h: which VMs of a status snapshot balloonctl shows, and in what
 * order: a name pattern, a sort, the first N. Client-side, on the
 * daemon's JSON (protocol.h), so that the table and --json agree and a
 * status of 1000+ VMs stays readable. */
#pragma once
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

enum vmlist_sort {
    VMLIST_SORT_NONE,     /* the daemon's order */
    VMLIST_SORT_NAME,     /* a-z, digits by value: web2 before web10 */
    VMLIST_SORT_RSS,      /* biggest first (sizes: unknown last) */
    VMLIST_SORT_TARGET,
    VMLIST_SORT_ACTUAL,
    VMLIST_SORT_PRESSURE, /* under pressure first, then the least available */
};

struct vmlist_opts {
    enum vmlist_sort sort;
    const char *const *patterns; /* shell globs (fnmatch); a VM matching any is kept */
    size_t n_patterns;           /* 0: every VM */
    size_t top;                  /* 0: no limit */
};

/* What vmlist_apply did: VMs in the snapshot, kept by the patterns, shown. */
struct vmlist_counts {
    size_t total, matching, shown;
};

/* "rss", "target", ...: 0 or -EINVAL. */
int vmlist_sort_parse(const char *s, enum vmlist_sort *out);
/* The sort keys, for messages: "rss|target|pressure|name|actual". */
#define VMLIST_SORT_KEYS "rss|target|pressure|name|actual"

/* Filters, sorts and cuts the "vms" array of status in place. 0, or
 * -ENOMEM (status then unchanged); a status without "vms" counts 0. */
int vmlist_apply(json_object *status, const struct vmlist_opts *o, struct vmlist_counts *out);
