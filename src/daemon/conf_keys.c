/* conf_keys.c: the key table and the value parsers (see conf_keys.h). */
#include "conf_keys.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "util.h"

#define HOST(field) CONF_SCOPE_HOST, .offset = offsetof(struct conf_host, field), \
    .size = sizeof(((struct conf_host *)0)->field)
#define VM(field) CONF_SCOPE_VM, .offset = offsetof(struct conf_vm, field), \
    .size = sizeof(((struct conf_vm *)0)->field)
#define VM_SET(flag) .has_set = true, .set_offset = offsetof(struct conf_vm, flag)

const struct conf_key conf_keys[] = {
    /* Below 100ms the QMP round trips of a few dozen VMs fill the tick;
     * above a minute the daemon reacts too late to a guest under pressure. */
    { "interval", HOST(interval_ms), .type = CONF_T_DURATION, .lo = 100, .hi = 60000,
      .def = "1s", .reloadable = true },
    { "socket_dir", HOST(socket_dir), .type = CONF_T_PATH, .def = "/run/balloond/qmp",
      .reloadable = true },
    /* Where VMs are found: QMP sockets in socket_dir, libvirt's domains
     * at libvirt_uri, or both. Chosen at start. */
    { "backend", HOST(backend), .type = CONF_T_BACKEND, .def = "qmp" },
    { "libvirt_uri", HOST(libvirt_uri), .type = CONF_T_URI, .def = "qemu:///system" },
    /* Bound at start, and balloonctl is told where: kept until a restart. */
    { "control_socket", HOST(control_socket), .type = CONF_T_PATH, .def = PROTO_SOCKET_DEFAULT },
    { "state_file", HOST(state_file), .type = CONF_T_PATH, .def = "/var/lib/balloond/state.json" },
    /* 0: the host's MemTotal. */
    { "budget", HOST(budget_bytes), .type = CONF_T_SIZE, .reloadable = true },
    { "cgroup", HOST(cgroup), .type = CONF_T_PATH, .reloadable = true },
    { "reserve", HOST(reserve), .type = CONF_T_SIZE_PCT, .def = "5%", .reloadable = true },
    { "step", HOST(step_bytes), .type = CONF_T_SIZE, .lo = MIB, .def = "128M", .reloadable = true },
    { "policy", HOST(policy), .type = CONF_T_POLICY, .def = "balloond", .reloadable = true },
    /* Off: proxmox and mom read the host's /proc/meminfo, as pvestatd and
     * momd do. On: they see a host of the budget's size (its limit, its
     * use), for a benchmark whose budget cgroup stands for a smaller host. */
    { "peer_budget", HOST(peer_budget), .type = CONF_T_BOOL, .def = "off", .reloadable = true },
    /* 100% would make idle memory worth nothing: a guest could lose all
     * of it to a busier one at once. VMware's ESX caps the tax at 99%. */
    { "idle_tax", HOST(idle_tax_pct), .type = CONF_T_UINT_PCT, .lo = 0, .hi = 99, .def = "75",
      .reloadable = true },
    /* The reclaim cascade reads its settings once, at start (tune_new). */
    { "ksm", HOST(ksm), .type = CONF_T_BOOL, .def = "on" },
    { "zswap", HOST(zswap), .type = CONF_T_BOOL, .def = "on" },
    { "zswap_compressor", HOST(zswap_compressor), .type = CONF_T_ALGORITHM, .def = "lz4" },
    /* The kernel takes 0..100; above 50% the pool competes with the very
     * memory it is meant to free. */
    { "zswap_max_pool", HOST(zswap_max_pool_pct), .type = CONF_T_UINT_PCT, .lo = 1, .hi = 50,
      .def = "20" },
    { "zram", HOST(zram_bytes), .type = CONF_T_SIZE },
    { "zram_algorithm", HOST(zram_algorithm), .type = CONF_T_ALGORITHM, .def = "lz4" },
    /* The listening socket is opened once, at start. */
    { "metrics", HOST(metrics_listen), .type = CONF_T_LISTEN, .def = CONF_METRICS_LISTEN_DEFAULT },
    { "qemu_user", HOST(qemu), .type = CONF_T_USERS, .reloadable = true },
    { "qemu_group", HOST(qemu), .type = CONF_T_GROUPS, .reloadable = true },
    { "min", VM(min), .type = CONF_T_SIZE_PCT, .def = "25%", .reloadable = true },
    { "max", VM(max), .type = CONF_T_SIZE_PCT, .def = "100%", .reloadable = true },
    { "buffer", VM(buffer_pct), VM_SET(buffer_set), .type = CONF_T_UINT_PCT, .lo = 0, .hi = 400,
      .def = "20", .reloadable = true },
    { "shares", VM(shares), VM_SET(shares_set), .type = CONF_T_UINT, .lo = 1, .hi = 1000000,
      .def = "1000", .reloadable = true },
};
const size_t conf_keys_count = ARRAY_SIZE(conf_keys);
_Static_assert(ARRAY_SIZE(conf_keys) <= CONF_KEYS_MAX, "raise CONF_KEYS_MAX");

static int why_set(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int why_set(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static bool ends_with_pct(const char *v)
{
    size_t len = strlen(v);
    return len > 0 && v[len - 1] == '%';
}

/* *dst = a copy of v (NULL for NULL), the old value freed. */
static int replace_str(char **dst, const char *v)
{
    char *copy = NULL;

    if (v && !(copy = strdup(v)))
        return -ENOMEM;
    free(*dst);
    *dst = copy;
    return 0;
}

static int parse_size(const char *v, bool pct_ok, struct conf_size *out, char *why, size_t len)
{
    uint64_t bytes = 0;
    unsigned pct = 0;
    bool is_pct = false;
    int r = size_or_pct_parse(v, &bytes, &pct, &is_pct);

    if (r == -ERANGE && ends_with_pct(v))
        return why_set(why, len, "\"%s\" is out of range (0%%..100%%)", v);
    if (r == -ERANGE)
        return why_set(why, len, "\"%s\" is too large", v);
    if (r < 0 && pct_ok)
        return why_set(why, len, "\"%s\" is not a size (use e.g. 512M, 4G or 25%%)", v);
    if (r < 0)
        return why_set(why, len, "\"%s\" is not a size (use e.g. 512M or 16G)", v);
    if (is_pct && !pct_ok)
        return why_set(why, len, "\"%s\": use an absolute size such as 16G, not a percentage", v);
    *out = (struct conf_size){ .set = true, .is_pct = is_pct, .pct = pct, .bytes = bytes };
    return 0;
}

/* A whole number in [lo, hi]; a trailing '%' is accepted when pct_ok. */
static int parse_uint(const struct conf_key *k, const char *v, unsigned *out, char *why, size_t len)
{
    bool pct_ok = k->type == CONF_T_UINT_PCT;
    char digits[32];
    uint64_t n;
    int r;

    snprintf(digits, sizeof(digits), "%s", v);
    if (pct_ok && ends_with_pct(digits))
        digits[strlen(digits) - 1] = '\0';
    r = strlen(v) < sizeof(digits) ? parse_u64(digits, &n) : -ERANGE;
    if (r == -EINVAL || !isdigit((unsigned char)v[0]))
        return why_set(why, len, "\"%s\" is not a whole number", v);
    if (r < 0 || n < k->lo || n > k->hi)
        return why_set(why, len, "\"%s\" is out of range (%llu..%llu)", v,
                       (unsigned long long)k->lo, (unsigned long long)k->hi);
    *out = (unsigned)n;
    return 0;
}

/* "100ms", "60s": a bound as the operator writes it. */
static const char *duration_text(uint64_t ms, char buf[32])
{
    if (ms % 1000 == 0)
        snprintf(buf, 32, "%llus", (unsigned long long)(ms / 1000));
    else
        snprintf(buf, 32, "%llums", (unsigned long long)ms);
    return buf;
}

static int parse_duration(const struct conf_key *k, const char *v, uint64_t *out, char *why,
                          size_t len)
{
    char lo[32], hi[32];
    uint64_t ms;

    if (duration_parse(v, &ms) < 0)
        return why_set(why, len, "\"%s\" is not a duration (use e.g. 500ms, 1s or 2m)", v);
    if (ms < k->lo || ms > k->hi)
        return why_set(why, len, "\"%s\" is out of range (%s..%s)", v, duration_text(k->lo, lo),
                       duration_text(k->hi, hi));
    *out = ms;
    return 0;
}

static int parse_abs_size(const struct conf_key *k, const char *v, uint64_t *out, char *why,
                          size_t len)
{
    char min[SIZE_FMT_MAX];
    struct conf_size s;
    int r = parse_size(v, false, &s, why, len);

    if (r < 0)
        return r;
    if (s.bytes < k->lo)
        return why_set(why, len, "\"%s\" is too small (at least %s)", v, size_format(k->lo, min));
    *out = s.bytes;
    return 0;
}

static int parse_bool(const char *v, bool *out, char *why, size_t len)
{
    if (strcmp(v, "on") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "true") == 0)
        *out = true;
    else if (strcmp(v, "off") == 0 || strcmp(v, "no") == 0 || strcmp(v, "false") == 0)
        *out = false;
    else
        return why_set(why, len, "\"%s\" is not on or off", v);
    return 0;
}

/* A kernel compressor name, as crypto API names go: short, lowercase. */
static int parse_algorithm(const char *v, char **dst, char *why, size_t len)
{
    size_t n = strlen(v);

    if (n == 0 || n > 32 || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
        return why_set(why, len, "\"%s\" is not a compressor name (e.g. lz4, zstd, lzo-rle)", v);
    return replace_str(dst, v);
}

/* "driver[+transport]://[host]/path[?query]": libvirt says the rest. */
static int parse_uri(const char *v, char **dst, char *why, size_t len)
{
    const char *sep = strstr(v, "://");
    size_t n = strlen(v);

    if (!sep || sep == v || n > 1024 || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789+") != (size_t)(sep - v))
        return why_set(why, len, "\"%s\" is not a libvirt URI (e.g. qemu:///system)", v);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] <= ' ' || v[i] == 0x7f)
            return why_set(why, len, "\"%s\" is not a libvirt URI: it has a space or control character", v);
    return replace_str(dst, v);
}

static int parse_listen(const char *v, char **dst, char *why, size_t len)
{
    if (strcmp(v, "off") == 0)
        return replace_str(dst, NULL);
    if (listen_parse(v, NULL, NULL) < 0)
        return why_set(why, len, "\"%s\" is not ADDRESS:PORT (e.g. 127.0.0.1:9781, [::1]:9781) or off", v);
    return replace_str(dst, v);
}

static int parse_ids(const struct conf_key *k, const char *v, struct trust_ids *ids, char *why,
                     size_t len)
{
    char bad[96];

    if (trust_parse(v, k->type == CONF_T_GROUPS, ids, bad, sizeof(bad)) < 0)
        return why_set(why, len, "%s", bad);
    return 0;
}

static int conf_key_parse(const struct conf_key *k, void *field, const char *v, char *why,
                          size_t len)
{
    switch (k->type) {
    case CONF_T_DURATION: return parse_duration(k, v, field, why, len);
    case CONF_T_PATH:
        if (v[0] != '/')
            return why_set(why, len, "\"%s\" is not an absolute path", v);
        return replace_str(field, v);
    case CONF_T_SIZE: return parse_abs_size(k, v, field, why, len);
    case CONF_T_SIZE_PCT: return parse_size(v, true, field, why, len);
    case CONF_T_UINT:
    case CONF_T_UINT_PCT: return parse_uint(k, v, field, why, len);
    case CONF_T_BOOL: return parse_bool(v, field, why, len);
    case CONF_T_ALGORITHM: return parse_algorithm(v, field, why, len);
    case CONF_T_POLICY:
        if (policy_kind_parse(v, field) < 0)
            return why_set(why, len, "\"%s\" is not a policy (balloond, proxmox, mom or static)", v);
        return 0;
    case CONF_T_LISTEN: return parse_listen(v, field, why, len);
    case CONF_T_BACKEND:
        if (conf_backend_parse(v, field) < 0)
            return why_set(why, len, "\"%s\" is not a backend (qmp, libvirt or both)", v);
        return 0;
    case CONF_T_URI: return parse_uri(v, field, why, len);
    case CONF_T_USERS:
    case CONF_T_GROUPS: return parse_ids(k, v, field, why, len);
    }
    return -EINVAL;
}

int conf_key_set(const struct conf_key *k, void *section, const char *value, char *why,
                 size_t why_len)
{
    int r = conf_key_parse(k, (char *)section + k->offset, value, why, why_len);

    if (r == 0 && k->has_set)
        *(bool *)((char *)section + k->set_offset) = true;
    return r;
}

const struct conf_key *conf_key_find(const char *name)
{
    for (size_t i = 0; i < conf_keys_count; i++)
        if (strcmp(conf_keys[i].name, name) == 0)
            return &conf_keys[i];
    return NULL;
}

int conf_keys_default(struct conf *c)
{
    char why[256];

    for (size_t i = 0; i < conf_keys_count; i++) {
        const struct conf_key *k = &conf_keys[i];
        void *section = k->scope == CONF_SCOPE_HOST ? (void *)&c->host : (void *)&c->defaults;
        int r;

        if (!k->def)
            continue;
        r = conf_key_set(k, section, k->def, why, sizeof(why));
        if (r < 0) /* -EINVAL: a default the table's own parser refuses */
            return r == -ENOMEM ? r : -EINVAL;
    }
    return 0;
}

static bool conf_type_is_str(enum conf_type t)
{
    return t == CONF_T_PATH || t == CONF_T_ALGORITHM || t == CONF_T_LISTEN || t == CONF_T_URI;
}

void conf_keys_free(struct conf_host *h)
{
    for (size_t i = 0; i < conf_keys_count; i++) {
        const struct conf_key *k = &conf_keys[i];
        char **s = (char **)((char *)h + k->offset);

        if (k->scope == CONF_SCOPE_HOST && conf_type_is_str(k->type)) {
            free(*s);
            *s = NULL;
        }
    }
}

const char *conf_keys_names(enum conf_scope scope, char *buf, size_t len)
{
    size_t at = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < conf_keys_count && at < len; i++)
        if (conf_keys[i].scope == scope)
            at += (size_t)snprintf(buf + at, len - at, "%s%s", at ? ", " : "", conf_keys[i].name);
    return buf;
}

/* A [vm NAME] or [defaults] value was given in that section. */
static bool conf_vm_key_set(const struct conf_key *k, const struct conf_vm *vm)
{
    const char *base = (const char *)vm;

    if (k->has_set)
        return *(const bool *)(base + k->set_offset);
    return ((const struct conf_size *)(base + k->offset))->set; /* CONF_T_SIZE_PCT */
}

struct conf_vm conf_vm_merge(const struct conf_vm *own, const struct conf_vm *defaults)
{
    struct conf_vm m = *defaults;

    for (size_t i = 0; i < conf_keys_count; i++) {
        const struct conf_key *k = &conf_keys[i];

        if (k->scope != CONF_SCOPE_VM || !conf_vm_key_set(k, own))
            continue;
        memcpy((char *)&m + k->offset, (const char *)own + k->offset, k->size);
        if (k->has_set)
            *(bool *)((char *)&m + k->set_offset) = true;
    }
    return m;
}

static bool conf_host_key_equal(const struct conf_key *k, const struct conf_host *a,
                                const struct conf_host *b)
{
    const char *pa = (const char *)a + k->offset, *pb = (const char *)b + k->offset;

    if (conf_type_is_str(k->type)) {
        const char *sa = *(char *const *)pa, *sb = *(char *const *)pb;
        return sa == sb || (sa && sb && strcmp(sa, sb) == 0);
    }
    return memcmp(pa, pb, k->size) == 0;
}

int conf_keep_running(const struct conf *running, struct conf *next, char *changed, size_t len)
{
    size_t at = 0;

    changed[0] = '\0';
    for (size_t i = 0; i < conf_keys_count; i++) {
        const struct conf_key *k = &conf_keys[i];
        const void *from = (const char *)&running->host + k->offset;
        void *to = (char *)&next->host + k->offset;

        if (k->scope != CONF_SCOPE_HOST || k->reloadable || conf_host_key_equal(k, &running->host, &next->host))
            continue;
        if (at < len)
            at += (size_t)snprintf(changed + at, len - at, "%s%s", at ? ", " : "", k->name);
        if (!conf_type_is_str(k->type))
            memcpy(to, from, k->size);
        else if (replace_str(to, *(char *const *)from) < 0)
            return -ENOMEM;
    }
    return 0;
}
