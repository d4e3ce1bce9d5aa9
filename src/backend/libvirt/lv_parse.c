/* lv_parse.c: libvirt's records and XML into plain structs (see lv_parse.h). */
#include "lv_parse.h"

#include <ctype.h>
#include <errno.h>
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
    out->free_page_reporting = attr(tag, end, "freePageReporting", v, sizeof(v)) && strcmp(v, "on") == 0;
    if (end[-1] == '/')
        return;
    close = strstr(end, "</memballoon>");
    stats = find_tag(end, "stats", &send);
    if (stats && close && stats < close && attr(stats, send, "period", v, sizeof(v))) {
        long period = strtol(v, NULL, 10);
        out->stats_period = period > 0 && period < 1000000 ? (int)period : 0;
    }
}

/* ---- virtio-mem ------------------------------------------------------------ */

/* A libvirt unit (formatdomain: b or bytes, then KB/k/KiB, MB/M/MiB, ...
 * up to TiB; "KB" is 1000, "k" and "KiB" 1024; letters in any case), as a
 * multiplier; 0: not a unit. */
static uint64_t unit_bytes(const char *u)
{
    static const char powers[] = "kmgt";
    const char *p;
    uint64_t mult = 1, base;

    if (strcasecmp(u, "b") == 0 || strcasecmp(u, "bytes") == 0)
        return 1;
    p = u[0] ? strchr(powers, tolower((unsigned char)u[0])) : NULL;
    if (!p)
        return 0;
    if (u[1] == '\0' || strcasecmp(u + 1, "ib") == 0)
        base = 1024;
    else if (strcasecmp(u + 1, "b") == 0)
        base = 1000;
    else
        return 0;
    for (const char *q = powers; q <= p; q++)
        mult *= base;
    return mult;
}

/* <tag unit='U'>N</tag> starting at or after from and before stop, in
 * bytes (no unit: KiB); false when absent, malformed or above 4 PiB. */
static bool read_size(const char *from, const char *stop, const char *tag, uint64_t *bytes)
{
    const char *end, *t = find_tag(from, tag, &end);
    char unit[16] = "KiB", *num_end;
    unsigned long long n;
    uint64_t mult;

    if (!t || t >= stop || end[-1] == '/' || !isdigit((unsigned char)end[1]))
        return false;
    if (strstr(t, " unit=") && strstr(t, " unit=") < end && !attr(t, end, "unit", unit, sizeof(unit)))
        return false;
    mult = unit_bytes(unit);
    errno = 0;
    n = strtoull(end + 1, &num_end, 10);
    if (!mult || errno || *num_end != '<' || n > LV_SIZE_MAX_BYTES / mult)
        return false;
    *bytes = n * mult;
    return true;
}

/* The sizes of a virtio-mem element [tag, close) into out->v. */
static void read_vmem_sizes(const char *body, const char *close, struct lv_vmem_dev *out)
{
    struct vmem_obs v = {.present = true};

    if (!read_size(body, close, "size", &v.max_bytes) || !read_size(body, close, "block", &v.block_bytes) ||
        !read_size(body, close, "requested", &v.requested_bytes)) {
        snprintf(out->bad, sizeof(out->bad), "virtio-mem %s: no readable <size>, <block> and <requested>",
                 out->alias);
        return;
    }
    /* <current> is written once the guest has answered: none, none plugged. */
    if (!read_size(body, close, "current", &v.size_bytes))
        v.size_bytes = 0;
    out->v = v;
}

/* One <memory model='virtio-mem'> element, its opening tag [tag, end]. */
static void read_vmem_device(const char *tag, const char *end, struct lv_vmem_dev *out)
{
    const char *close = end[-1] == '/' ? NULL : strstr(end, "</memory>"), *a, *aend;
    char alias[LV_VMEM_ALIAS_MAX + 1];

    if (!close)
        return;
    a = find_tag(end, "alias", &aend);
    if (!a || a > close || !attr(a, aend, "name", alias, sizeof(alias)) || !alias[0]) {
        out->anon = true; /* not addressable: libvirt finds a device by its alias */
        return;
    }
    if (strlen(alias) >= LV_VMEM_ALIAS_MAX || strpbrk(alias, "<>&'\"")) {
        snprintf(out->bad, sizeof(out->bad), "a virtio-mem alias that is too long or has XML specials");
        return;
    }
    memcpy(out->alias, alias, strlen(alias) + 1); /* shorter than LV_VMEM_ALIAS_MAX: checked */
    close += strlen("</memory>");
    if ((size_t)(close - tag) >= LV_VMEM_ELEM_MAX) {
        snprintf(out->bad, sizeof(out->bad), "virtio-mem %s: its XML is longer than %d bytes", alias,
                 LV_VMEM_ELEM_MAX - 1);
        return;
    }
    memcpy(out->elem, tag, (size_t)(close - tag));
    out->elem[close - tag] = '\0';
    read_vmem_sizes(end, close, out);
}

void lv_xml_vmem_read(const char *xml, struct lv_vmem_dev *out)
{
    const char *p = xml, *end, *t;
    uint64_t total = 0;
    bool have_total = false;
    char model[32];

    *out = (struct lv_vmem_dev){0};
    while (xml && !out->v.present && !out->bad[0] && (t = find_tag(p, "memory", &end))) {
        p = end;
        if (!attr(t, end, "model", model, sizeof(model)))
            have_total = have_total || read_size(t, t + 1, "memory", &total); /* the domain's <memory> */
        else if (strcmp(model, "virtio-mem") == 0)
            read_vmem_device(t, end, out);
    }
    if (!out->v.present)
        return;
    if (!have_total || total < out->v.max_bytes || !vmem_obs_valid(&out->v)) {
        snprintf(out->bad, sizeof(out->bad), "virtio-mem %s: sizes that do not add up (<memory>, <size>, "
                 "<block>, <requested>, <current>)", out->alias);
        out->v = (struct vmem_obs){0};
        return;
    }
    out->v.base_bytes = total - out->v.max_bytes;
}

/* [*from, *to) of <tag ...>...</tag> or <tag/> inside [elem, stop); false if none. */
static bool element_span(const char *elem, const char *stop, const char *tag, const char **from, const char **to)
{
    char close[32];
    const char *end, *t = find_tag(elem, tag, &end), *c;

    if (!t || t >= stop)
        return false;
    snprintf(close, sizeof(close), "</%s>", tag);
    c = end[-1] == '/' ? end + 1 : strstr(end, close);
    if (!c || c > stop)
        return false;
    *from = t;
    *to = end[-1] == '/' ? c : c + strlen(close);
    return true;
}

int lv_vmem_update_xml(const char *elem, uint64_t requested_bytes, char *buf, size_t len)
{
    const char *tclose = strstr(elem, "</target>"), *r0, *r1, *c0 = NULL, *c1 = NULL;
    char req[64];
    int n;

    if (strncmp(elem, "<memory ", 8) != 0 || !strstr(elem, "'virtio-mem'") || !tclose)
        return -EBADMSG;
    if (!element_span(elem, tclose, "requested", &r0, &r1))
        r0 = r1 = tclose; /* none yet: one goes at the end of <target> */
    if (element_span(elem, tclose, "current", &c0, &c1) && c0 < r1 && c1 > r0)
        return -EBADMSG;
    snprintf(req, sizeof(req), "<requested unit='KiB'>%llu</requested>", (unsigned long long)(requested_bytes >> 10));
    if (!c0)
        n = snprintf(buf, len, "%.*s%s%s", (int)(r0 - elem), elem, req, r1);
    else if (c0 < r0)
        n = snprintf(buf, len, "%.*s%.*s%s%s", (int)(c0 - elem), elem, (int)(r0 - c1), c1, req, r1);
    else
        n = snprintf(buf, len, "%.*s%s%.*s%s", (int)(r0 - elem), elem, req, (int)(c0 - r1), r1, c1);
    return n >= 0 && (size_t)n < len ? 0 : -ENOSPC;
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
    lv_xml_vmem_read(xml, &out->vmem);
}

const char *lv_xml_unsuitable(const struct lv_xml_facts *f)
{
    if (f->vmem.v.present)
        return NULL;
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
