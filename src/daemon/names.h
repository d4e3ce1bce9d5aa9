/* names.h: VM name -> index into the manager's array, in O(1): the
 * socket directory is scanned every tick, and a linear lookup per entry
 * made that quadratic in the VM count (issue 12). Open addressing with
 * linear probing, at most half full; keys are borrowed (the VM's name). */
#pragma once
#include <stddef.h>
#include <sys/types.h>

struct names {
    struct name_slot {
        const char *name;   /* NULL: empty */
        size_t index;
    } *slots;
    size_t cap, n;          /* cap: a power of two, or 0 */
};

/* -1 when absent. */
ssize_t names_get(const struct names *t, const char *name);
/* Adds or updates name -> index. 0 or -ENOMEM. */
int names_put(struct names *t, const char *name, size_t index);
void names_del(struct names *t, const char *name);
void names_free(struct names *t);
