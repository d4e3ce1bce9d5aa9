/* vmlist.c: the VMs balloonctl shows (see vmlist.h). */
#include "vmlist.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

int vmlist_sort_parse(const char *s, enum vmlist_sort *out)
{
    static const struct {
        const char *word;
        enum vmlist_sort sort;
    } words[] = {
        {"name", VMLIST_SORT_NAME},     {"rss", VMLIST_SORT_RSS},
        {"target", VMLIST_SORT_TARGET}, {"actual", VMLIST_SORT_ACTUAL},
        {"pressure", VMLIST_SORT_PRESSURE},
    };

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcmp(s, words[i].word) == 0) {
            *out = words[i].sort;
            return 0;
        }
    return -EINVAL;
}

static const char *vm_name(json_object *vm)
{
    json_object *v;

    return json_object_object_get_ex(vm, PROTO_KEY_NAME, &v) && v ? json_object_get_string(v) : "";
}

/* A size, or -1 when the snapshot has none (null or absent). */
static int64_t vm_size(json_object *vm, const char *key)
{
    json_object *v;

    if (!json_object_object_get_ex(vm, key, &v) || !v)
        return -1;
    return json_object_get_int64(v);
}

static bool vm_under_pressure(json_object *vm)
{
    json_object *v;

    return json_object_object_get_ex(vm, PROTO_KEY_PRESSURE, &v) && v;
}

static bool vm_matches(json_object *vm, const struct vmlist_opts *o)
{
    if (o->n_patterns == 0)
        return true;
    for (size_t i = 0; i < o->n_patterns; i++)
        if (fnmatch(o->patterns[i], vm_name(vm), 0) == 0)
            return true;
    return false;
}

static int cmp_i64_desc(int64_t a, int64_t b)
{
    return a > b ? -1 : a < b;
}

static int vm_cmp(const void *pa, const void *pb, void *sortp)
{
    json_object *a = *(json_object *const *)pa, *b = *(json_object *const *)pb;
    int c = 0;

    switch (*(const enum vmlist_sort *)sortp) {
    case VMLIST_SORT_RSS: c = cmp_i64_desc(vm_size(a, PROTO_KEY_RSS_BYTES), vm_size(b, PROTO_KEY_RSS_BYTES)); break;
    case VMLIST_SORT_TARGET:
        c = cmp_i64_desc(vm_size(a, PROTO_KEY_TARGET_BYTES), vm_size(b, PROTO_KEY_TARGET_BYTES));
        break;
    case VMLIST_SORT_ACTUAL:
        c = cmp_i64_desc(vm_size(a, PROTO_KEY_ACTUAL_BYTES), vm_size(b, PROTO_KEY_ACTUAL_BYTES));
        break;
    case VMLIST_SORT_PRESSURE: {
        int64_t av_a = vm_size(a, PROTO_KEY_AVAILABLE_BYTES), av_b = vm_size(b, PROTO_KEY_AVAILABLE_BYTES);
        c = (int)vm_under_pressure(b) - (int)vm_under_pressure(a);
        /* Then the least available first; unknown after every known. */
        if (c == 0 && av_a != av_b)
            c = av_a < 0 ? 1 : av_b < 0 ? -1 : av_a < av_b ? -1 : 1;
        break;
    }
    case VMLIST_SORT_NAME:
    case VMLIST_SORT_NONE: break;
    }
    return c ? c : strverscmp(vm_name(a), vm_name(b));
}

int vmlist_apply(json_object *status, const struct vmlist_opts *o, struct vmlist_counts *out)
{
    json_object *vms, *kept;
    json_object **list;
    size_t n, k = 0, shown;

    if (!json_object_object_get_ex(status, PROTO_KEY_VMS, &vms) || !json_object_is_type(vms, json_type_array)) {
        *out = (struct vmlist_counts){0};
        return 0;
    }
    n = json_object_array_length(vms);
    list = calloc(n ? n : 1, sizeof(*list));
    kept = json_object_new_array_ext((int)(n ? n : 1));
    if (!list || !kept) {
        free(list);
        json_object_put(kept);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *vm = json_object_array_get_idx(vms, i);
        if (vm_matches(vm, o))
            list[k++] = vm;
    }
    if (o->sort != VMLIST_SORT_NONE)
        qsort_r(list, k, sizeof(*list), vm_cmp, (void *)&o->sort);
    shown = o->top && o->top < k ? o->top : k;
    for (size_t i = 0; i < shown; i++)
        json_object_array_add(kept, json_object_get(list[i]));
    free(list);
    /* Replaces (and so releases) the old array; the kept VMs hold a reference of their own. */
    json_object_object_add(status, PROTO_KEY_VMS, kept);
    *out = (struct vmlist_counts){.total = n, .matching = k, .shown = shown};
    return 0;
}
