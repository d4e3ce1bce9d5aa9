/* lv_parse.c: libvirt's records and XML into plain structs (see lv_parse.h). */
#include "lv_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* A balloon.* field: where it goes, and whether it is KiB. */
struct field {
    const char *name;
    size_t offset;   /* into struct qmp_guest_stats */
    bool kib;
};

#define G(f) offsetof(struct qmp_guest_stats, f)
static const struct field guest_fields[] = {
    {"balloon.swap_in", G(swap_in_bytes), true},
    {"balloon.swap_out", G(swap_out_bytes), true},
    {"balloon.major_fault", G(major_faults), false},
    {"balloon.minor_fault", G(minor_faults), false},
    {"balloon.unused", G(free_bytes), true},
    {"balloon.available", G(total_bytes), true},
    {"balloon.usable", G(avail_bytes), true},
    {"balloon.disk_caches", G(disk_caches_bytes), true},
};

static bool param_u64(const virTypedParameter *p, uint64_t *out)
{
    switch (p->type) {
    case VIR_TYPED_PARAM_ULLONG: *out = p->value.ul; return true;
    case VIR_TYPED_PARAM_UINT: *out = p->value.ui; return true;
    case VIR_TYPED_PARAM_LLONG: if (p->value.l < 0) return false; *out = (uint64_t)p->value.l; return true;
    case VIR_TYPED_PARAM_INT: if (p->value.i < 0) return false; *out = (uint64_t)p->value.i; return true;
    default: return false;
    }
}

/* KiB to bytes, or false (and a note in bad) for a size no machine has. */
static bool kib_bytes(struct lv_dom_stats *out, const char *field, uint64_t kib, uint64_t *bytes)
{
    if (kib > LV_SIZE_MAX_BYTES / 1024) {
        if (!out->bad[0])
            snprintf(out->bad, sizeof(out->bad), "%s of %llu KiB is above 4 PiB", field,
                     (unsigned long long)kib);
        return false;
    }
    *bytes = kib * 1024;
    return true;
}

static void read_guest_field(struct lv_dom_stats *out, const char *field, uint64_t v)
{
    for (size_t i = 0; i < ARRAY_SIZE(guest_fields); i++) {
        const struct field *f = &guest_fields[i];
        uint64_t *dst = (uint64_t *)((char *)&out->guest + f->offset);
        if (strcmp(field, f->name) != 0)
            continue;
        if (!f->kib)
            *dst = v;
        else if (!kib_bytes(out, field, v, dst))
            *dst = QMP_UNKNOWN;
        return;
    }
}

static void read_one(struct lv_dom_stats *out, const virTypedParameter *p)
{
    uint64_t v;

    if (!param_u64(p, &v))
        return;
    if (strcmp(p->field, "state.state") == 0)
        out->state = v <= 16 ? (int)v : -1;
    else if (strcmp(p->field, "state.reason") == 0)
        out->reason = v <= 64 ? (int)v : -1;
    else if (strcmp(p->field, "balloon.current") == 0)
        out->have_current = kib_bytes(out, p->field, v, &out->current_bytes);
    else if (strcmp(p->field, "balloon.maximum") == 0)
        out->have_maximum = kib_bytes(out, p->field, v, &out->maximum_bytes) && v > 0;
    else if (strcmp(p->field, "balloon.rss") == 0) {
        if (!kib_bytes(out, p->field, v, &out->rss_bytes))
            out->rss_bytes = 0;
    } else if (strcmp(p->field, "balloon.last-update") == 0)
        out->guest.last_update_s = v;
    else
        read_guest_field(out, p->field, v);
}

void lv_stats_read(const char *name, const virTypedParameter *params, int n, struct lv_dom_stats *out)
{
    *out = (struct lv_dom_stats){.state = -1, .reason = -1};
    snprintf(out->name, sizeof(out->name), "%s", name ? name : "");
    out->guest = (struct qmp_guest_stats){
        .swap_in_bytes = QMP_UNKNOWN, .swap_out_bytes = QMP_UNKNOWN, .major_faults = QMP_UNKNOWN,
        .minor_faults = QMP_UNKNOWN, .free_bytes = QMP_UNKNOWN, .total_bytes = QMP_UNKNOWN,
        .avail_bytes = QMP_UNKNOWN, .disk_caches_bytes = QMP_UNKNOWN, .oom_kills = QMP_UNKNOWN,
        .alloc_stalls = QMP_UNKNOWN,
    };
    for (int i = 0; params && i < n; i++)
        read_one(out, &params[i]);
}

const char *lv_state_str(int state, int reason)
{
    switch (state) {
    case VIR_DOMAIN_RUNNING: return "running";
    case VIR_DOMAIN_BLOCKED: return "running";
    case VIR_DOMAIN_PAUSED:
        return reason == VIR_DOMAIN_PAUSED_MIGRATION || reason == VIR_DOMAIN_PAUSED_POSTCOPY ? "migrating"
                                                                                           : "paused";
    case VIR_DOMAIN_SHUTDOWN: return "shutdown";
    case VIR_DOMAIN_SHUTOFF: return "shutoff";
    case VIR_DOMAIN_CRASHED: return "crashed";
    case VIR_DOMAIN_PMSUSPENDED: return "pmsuspended";
    }
    return "unknown";
}

/* The text of the element <tag ...> or <tag/> first found at or after
 * from, up to its '>' (exclusive); NULL when there is none. */
static const char *find_tag(const char *from, const char *tag, const char **end)
{
    size_t n = strlen(tag);

    for (const char *p = strchr(from, '<'); p; p = strchr(p + 1, '<')) {
        if (strncmp(p + 1, tag, n) == 0 && (p[1 + n] == ' ' || p[1 + n] == '>' || p[1 + n] == '/')) {
            *end = strchr(p, '>');
            return *end ? p : NULL;
        }
    }
    return NULL;
}

/* attr='value' (or "value") inside [tag, end), into buf. */
static bool attr(const char *tag, const char *end, const char *name, char *buf, size_t len)
{
    char key[48];
    const char *p;

    snprintf(key, sizeof(key), " %s=", name);
    p = strstr(tag, key);
    if (!p || p >= end || len == 0)
        return false;
    p += strlen(key);
    char q = *p++;
    const char *close = (q == '\'' || q == '"') ? strchr(p, q) : NULL;
    if (!close || close > end)
        return false;
    snprintf(buf, len, "%.*s", (int)min_u64((uint64_t)(close - p), len - 1), p);
    return true;
}

/* The facts inside <memballoon ...> ... </memballoon> (or <memballoon/>). */
static void read_balloon(const char *xml, struct lv_xml_facts *out)
{
    const char *end, *tag = find_tag(xml, "memballoon", &end), *close, *stats, *send;
    char v[32];

    if (!tag)
        return;
    out->balloon = attr(tag, end, "model", v, sizeof(v)) && strcmp(v, "none") == 0 ? LV_BALLOON_NONE
                   : strncmp(v, "virtio", 6) == 0                                 ? LV_BALLOON_VIRTIO
                                                                                  : LV_BALLOON_OTHER;
    out->deflate_on_oom = attr(tag, end, "deflate", v, sizeof(v)) && strcmp(v, "on") == 0;
    if (end[-1] == '/')
        return;
    close = strstr(end, "</memballoon>");
    stats = find_tag(end, "stats", &send);
    if (stats && close && stats < close && attr(stats, send, "period", v, sizeof(v))) {
        long period = strtol(v, NULL, 10);
        out->stats_period = period > 0 && period < 1000000 ? (int)period : 0;
    }
}

void lv_xml_read(const char *xml, struct lv_xml_facts *out)
{
    const char *end, *mb, *mb_close;

    *out = (struct lv_xml_facts){.balloon = LV_BALLOON_NONE};
    if (!xml)
        return;
    read_balloon(xml, out);
    mb = find_tag(xml, "memoryBacking", &end);
    mb_close = mb ? strstr(end, "</memoryBacking>") : NULL;
    if (mb && mb_close) {
        const char *t, *tend;
        out->locked = (t = find_tag(end, "locked", &tend)) && t < mb_close;
        out->hugepages = (t = find_tag(end, "hugepages", &tend)) && t < mb_close;
    }
    out->hostdev = find_tag(xml, "hostdev", &end) != NULL;
}

const char *lv_xml_unsuitable(const struct lv_xml_facts *f)
{
    if (f->balloon == LV_BALLOON_NONE)
        return "the domain has no balloon device (<memballoon model='none'/>)";
    if (f->balloon != LV_BALLOON_VIRTIO)
        return "the domain's balloon is not a virtio balloon";
    if (f->locked)
        return "its memory is locked (<memoryBacking><locked/>): a balloon gives nothing back to the host";
    if (f->hugepages)
        return "its memory is backed by hugepages: a balloon gives nothing back to the host";
    if (f->hostdev)
        return "it has a <hostdev> (VFIO pins all guest memory): a balloon gives nothing back to the host";
    return NULL;
}

bool lv_cmdline_is_domain(const char *cmdline, size_t len, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < len;) {
        const char *arg = cmdline + i;
        size_t alen = strnlen(arg, len - i);
        size_t next = i + alen + 1;
        if (strcmp(arg, "-name") == 0 && next < len) {
            const char *v = cmdline + next;
            size_t vlen = strnlen(v, len - next);
            if (vlen >= 6 && strncmp(v, "guest=", 6) == 0)
                v += 6, vlen -= 6;
            return vlen >= n && strncmp(v, name, n) == 0 && (vlen == n || v[n] == ',');
        }
        i = next;
    }
    return false;
}
