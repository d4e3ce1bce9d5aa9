/* names.c: see names.h. */
#include "names.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

static struct name_slot *find(const struct names *t, const char *name)
{
    if (t->cap == 0)
        return NULL;
    for (size_t i = hash(name) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        struct name_slot *s = &t->slots[i];
        if (!s->name || strcmp(s->name, name) == 0)
            return s;
    }
}

ssize_t names_get(const struct names *t, const char *name)
{
    struct name_slot *s = find(t, name);

    return s && s->name ? (ssize_t)s->index : -1;
}

static int grow(struct names *t)
{
    struct names bigger = {.cap = t->cap ? t->cap * 2 : 64};

    bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
    if (!bigger.slots)
        return -ENOMEM;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].name)
            *find(&bigger, t->slots[i].name) = t->slots[i];
    bigger.n = t->n;
    free(t->slots);
    *t = bigger;
    return 0;
}

int names_put(struct names *t, const char *name, size_t index)
{
    struct name_slot *s = find(t, name);

    if (s && s->name) { /* an update never allocates */
        s->index = index;
        return 0;
    }
    if ((t->n + 1) * 2 > t->cap && grow(t) < 0)
        return -ENOMEM;
    s = find(t, name);
    if (!s->name)
        t->n++;
    *s = (struct name_slot){name, index};
    return 0;
}

/* Removal without tombstones: the probe run after the hole is put back. */
void names_del(struct names *t, const char *name)
{
    struct name_slot *s = find(t, name);
    size_t i;

    if (!s || !s->name)
        return;
    s->name = NULL;
    t->n--;
    for (i = ((size_t)(s - t->slots) + 1) & (t->cap - 1); t->slots[i].name; i = (i + 1) & (t->cap - 1)) {
        struct name_slot moved = t->slots[i];
        t->slots[i].name = NULL;
        *find(t, moved.name) = moved;
    }
}

void names_free(struct names *t)
{
    free(t->slots);
    *t = (struct names){0};
}
