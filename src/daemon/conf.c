/* conf.c: the INI config file, parsed with libinih.
 *
 * Debian's libinih (55) is built without INI_HANDLER_LINENO, so its handler
 * is not told the line number. We parse with ini_parse_stream() and our own
 * line reader: inih reads one line, handles it, then asks for the next, so
 * the reader's count is the line the handler is called for. inih calls the
 * handler only for "key = value" lines, so the reader also notes the section
 * headers (empty and duplicate sections must be caught too) and any line
 * that inih rejected without calling the handler (a syntax error). */
#include "conf.h"
#include "protocol.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONF_VM_NAME_MAX 64
/* A config of a few dozen VMs is a few KiB; 1 MiB bounds a wrong path
 * (balloond -t -c /dev/zero read forever). */
#define CONF_FILE_MAX (1u << 20)
/* A 10 MB garbage file logged 171,900 lines per SIGHUP: the first few
 * name the problem, the rest are counted ("... and N more"). */
#define CONF_ERRORS_LOGGED 20

enum conf_section_kind {
    CONF_SEC_NONE,     /* before the first header */
    CONF_SEC_HOST,
    CONF_SEC_DEFAULTS,
    CONF_SEC_VM,
    CONF_SEC_INVALID,  /* a bad header, already reported: skip its keys */
};

enum conf_key_id {
    CONF_K_INTERVAL, CONF_K_SOCKET_DIR, CONF_K_CONTROL_SOCKET, CONF_K_STATE_FILE,
    CONF_K_BUDGET, CONF_K_CGROUP, CONF_K_RESERVE, CONF_K_STEP, CONF_K_POLICY, CONF_K_IDLE_TAX,
    CONF_K_KSM, CONF_K_ZSWAP, CONF_K_ZSWAP_COMPRESSOR, CONF_K_ZSWAP_MAX_POOL, CONF_K_ZRAM,
    CONF_K_ZRAM_ALGORITHM, CONF_K_METRICS, CONF_K_QEMU_USER, CONF_K_QEMU_GROUP,
    CONF_K_MIN, CONF_K_MAX, CONF_K_BUFFER, CONF_K_SHARES,
    CONF_K_COUNT,
};

struct conf_parser {
    struct conf *conf;   /* being filled; owned by conf_load_ex() */
    const char *path;
    FILE *file;

    /* The line inih is handling. */
    unsigned line;
    bool line_indented;
    bool line_wants_handler;  /* a key line: no handler call means a syntax error */
    bool line_handled;
    char line_excerpt[48];

    /* The section being read. */
    enum conf_section_kind kind;
    char label[CONF_VM_NAME_MAX + 8];  /* "host", "vm web1" */
    unsigned vm_index;                 /* CONF_SEC_VM */
    unsigned section_keys;             /* handler calls since the header (inih's prev_name) */
    unsigned key_line[CONF_K_COUNT];   /* where each key was set in this section */
    const char *key;                   /* the key being set, for messages */

    unsigned host_line, defaults_line;
    unsigned *vm_lines;                /* parallel to conf->vms */
    unsigned n_errors;
    char *first_error;
    bool oom;
};

static void conf_error_at(struct conf_parser *p, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void conf_error_at(struct conf_parser *p, unsigned line, const char *fmt, ...)
{
    char msg[512];
    char *full;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (p->n_errors < CONF_ERRORS_LOGGED)
        log_err("%s:%u: %s", p->path, line, msg);
    p->n_errors++;
    if (p->n_errors == 1 && asprintf(&full, "%s:%u: %s", p->path, line, msg) >= 0)
        p->first_error = full;
}

static int conf_key_error(struct conf_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int conf_key_error(struct conf_parser *p, const char *fmt, ...)
{
    char msg[384];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    conf_error_at(p, p->line, "[%s] %s: %s", p->label, p->key, msg);
    return -EINVAL;
}

static struct conf_vm *conf_parser_vm(struct conf_parser *p)
{
    return p->kind == CONF_SEC_VM ? &p->conf->vms[p->vm_index] : &p->conf->defaults;
}

/* Values */

static bool ends_with_pct(const char *v)
{
    size_t len = strlen(v);
    return len > 0 && v[len - 1] == '%';
}

static int conf_parse_size(struct conf_parser *p, const char *v, bool pct_ok, struct conf_size *out)
{
    uint64_t bytes = 0;
    unsigned pct = 0;
    bool is_pct = false;
    int r;

    r = size_or_pct_parse(v, &bytes, &pct, &is_pct);
    if (r == -ERANGE && ends_with_pct(v))
        return conf_key_error(p, "\"%s\" is out of range (0%%..100%%)", v);
    if (r == -ERANGE)
        return conf_key_error(p, "\"%s\" is too large", v);
    if (r < 0 && pct_ok)
        return conf_key_error(p, "\"%s\" is not a size (use e.g. 512M, 4G or 25%%)", v);
    if (r < 0)
        return conf_key_error(p, "\"%s\" is not a size (use e.g. 512M or 16G)", v);
    if (is_pct && !pct_ok)
        return conf_key_error(p, "\"%s\": use an absolute size such as 16G, not a percentage", v);
    *out = (struct conf_size){ .set = true, .is_pct = is_pct, .pct = pct, .bytes = bytes };
    return 0;
}

/* A whole number in [lo, hi]; a trailing '%' is accepted when pct_ok. */
static int conf_parse_uint(struct conf_parser *p, const char *v, bool pct_ok, uint64_t lo,
                           uint64_t hi, unsigned *out)
{
    char digits[32];
    uint64_t n;
    int r;

    snprintf(digits, sizeof(digits), "%s", v);
    if (pct_ok && ends_with_pct(digits))
        digits[strlen(digits) - 1] = '\0';
    r = strlen(v) < sizeof(digits) ? parse_u64(digits, &n) : -ERANGE;
    if (r == -EINVAL || !isdigit((unsigned char)v[0]))
        return conf_key_error(p, "\"%s\" is not a whole number", v);
    if (r < 0 || n < lo || n > hi)
        return conf_key_error(p, "\"%s\" is out of range (%llu..%llu)", v,
                              (unsigned long long)lo, (unsigned long long)hi);
    *out = (unsigned)n;
    return 0;
}

/* *dst = a copy of v (NULL for NULL), the old value freed. */
static int conf_replace_str(struct conf_parser *p, char **dst, const char *v)
{
    char *copy = NULL;

    if (v && !(copy = strdup(v))) {
        p->oom = true;
        return -ENOMEM;
    }
    free(*dst);
    *dst = copy;
    return 0;
}

static int conf_parse_path(struct conf_parser *p, const char *v, char **dst)
{
    if (v[0] != '/')
        return conf_key_error(p, "\"%s\" is not an absolute path", v);
    return conf_replace_str(p, dst, v);
}

/* Keys */

static int conf_set_interval(struct conf_parser *p, const char *v)
{
    uint64_t ms;

    if (duration_parse(v, &ms) < 0)
        return conf_key_error(p, "\"%s\" is not a duration (use e.g. 500ms, 1s or 2m)", v);
    /* Below 100ms the QMP round trips of a few dozen VMs fill the tick;
     * above a minute the daemon reacts too late to a guest under pressure. */
    if (ms < 100 || ms > 60000)
        return conf_key_error(p, "\"%s\" is out of range (100ms..60s)", v);
    p->conf->host.interval_ms = ms;
    return 0;
}

static int conf_set_socket_dir(struct conf_parser *p, const char *v)
{
    return conf_parse_path(p, v, &p->conf->host.socket_dir);
}

static int conf_set_control_socket(struct conf_parser *p, const char *v)
{
    return conf_parse_path(p, v, &p->conf->host.control_socket);
}

static int conf_set_state_file(struct conf_parser *p, const char *v)
{
    return conf_parse_path(p, v, &p->conf->host.state_file);
}

static int conf_set_cgroup(struct conf_parser *p, const char *v)
{
    return conf_parse_path(p, v, &p->conf->host.cgroup);
}

static int conf_set_budget(struct conf_parser *p, const char *v)
{
    struct conf_size s;
    int r = conf_parse_size(p, v, false, &s);

    if (r == 0)
        p->conf->host.budget_bytes = s.bytes;
    return r;
}

static int conf_set_reserve(struct conf_parser *p, const char *v)
{
    return conf_parse_size(p, v, true, &p->conf->host.reserve);
}

static int conf_set_step(struct conf_parser *p, const char *v)
{
    struct conf_size s;
    int r = conf_parse_size(p, v, false, &s);

    if (r < 0)
        return r;
    if (s.bytes < MIB)
        return conf_key_error(p, "\"%s\" is too small (at least 1M)", v);
    p->conf->host.step_bytes = s.bytes;
    return 0;
}

static int conf_set_policy(struct conf_parser *p, const char *v)
{
    if (policy_kind_parse(v, &p->conf->host.policy) < 0)
        return conf_key_error(p, "\"%s\" is not a policy (balloond, proxmox, mom or static)", v);
    return 0;
}

static int conf_set_idle_tax(struct conf_parser *p, const char *v)
{
    /* 100% would make idle memory worth nothing: a guest could lose all
     * of it to a busier one at once. VMware's ESX caps the tax at 99%. */
    return conf_parse_uint(p, v, true, 0, 99, &p->conf->host.idle_tax_pct);
}

static int conf_parse_bool(struct conf_parser *p, const char *v, bool *out)
{
    if (strcmp(v, "on") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "true") == 0)
        *out = true;
    else if (strcmp(v, "off") == 0 || strcmp(v, "no") == 0 || strcmp(v, "false") == 0)
        *out = false;
    else
        return conf_key_error(p, "\"%s\" is not on or off", v);
    return 0;
}

/* A kernel compressor name, as crypto API names go: short, lowercase. */
static int conf_parse_algorithm(struct conf_parser *p, const char *v, char **dst)
{
    size_t len = strlen(v);

    if (len == 0 || len > 32 || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-") != len)
        return conf_key_error(p, "\"%s\" is not a compressor name (e.g. lz4, zstd, lzo-rle)", v);
    return conf_replace_str(p, dst, v);
}

static int conf_set_ksm(struct conf_parser *p, const char *v)
{
    return conf_parse_bool(p, v, &p->conf->host.ksm);
}

static int conf_set_zswap(struct conf_parser *p, const char *v)
{
    return conf_parse_bool(p, v, &p->conf->host.zswap);
}

static int conf_set_zswap_compressor(struct conf_parser *p, const char *v)
{
    return conf_parse_algorithm(p, v, &p->conf->host.zswap_compressor);
}

static int conf_set_zswap_max_pool(struct conf_parser *p, const char *v)
{
    /* The kernel takes 0..100; above 50% the pool competes with the very
     * memory it is meant to free. */
    return conf_parse_uint(p, v, true, 1, 50, &p->conf->host.zswap_max_pool_pct);
}

static int conf_set_zram(struct conf_parser *p, const char *v)
{
    struct conf_size s;
    int r = conf_parse_size(p, v, false, &s);

    if (r == 0)
        p->conf->host.zram_bytes = s.bytes;
    return r;
}

static int conf_set_zram_algorithm(struct conf_parser *p, const char *v)
{
    return conf_parse_algorithm(p, v, &p->conf->host.zram_algorithm);
}

static int conf_set_metrics(struct conf_parser *p, const char *v)
{
    if (strcmp(v, "off") == 0)
        return conf_replace_str(p, &p->conf->host.metrics_listen, NULL);
    if (listen_parse(v, NULL, NULL) < 0)
        return conf_key_error(p, "\"%s\" is not ADDRESS:PORT (e.g. 127.0.0.1:9781, [::1]:9781) or off", v);
    return conf_replace_str(p, &p->conf->host.metrics_listen, v);
}

static int conf_set_qemu_ids(struct conf_parser *p, const char *v, bool groups)
{
    char bad[96];

    if (trust_parse(v, groups, &p->conf->host.qemu, bad, sizeof(bad)) < 0)
        return conf_key_error(p, "%s", bad);
    return 0;
}

static int conf_set_qemu_user(struct conf_parser *p, const char *v)
{
    return conf_set_qemu_ids(p, v, false);
}

static int conf_set_qemu_group(struct conf_parser *p, const char *v)
{
    return conf_set_qemu_ids(p, v, true);
}

static int conf_set_min(struct conf_parser *p, const char *v)
{
    return conf_parse_size(p, v, true, &conf_parser_vm(p)->min);
}

static int conf_set_max(struct conf_parser *p, const char *v)
{
    return conf_parse_size(p, v, true, &conf_parser_vm(p)->max);
}

static int conf_set_buffer(struct conf_parser *p, const char *v)
{
    struct conf_vm *vm = conf_parser_vm(p);
    int r = conf_parse_uint(p, v, true, 0, 400, &vm->buffer_pct);

    if (r == 0)
        vm->buffer_set = true;
    return r;
}

static int conf_set_shares(struct conf_parser *p, const char *v)
{
    struct conf_vm *vm = conf_parser_vm(p);
    int r = conf_parse_uint(p, v, false, 1, 1000000, &vm->shares);

    if (r == 0)
        vm->shares_set = true;
    return r;
}

static const struct conf_key {
    const char *name;
    bool host;  /* [host]; otherwise [defaults] and [vm NAME] */
    int (*set)(struct conf_parser *p, const char *value);
} conf_keys[CONF_K_COUNT] = {
    [CONF_K_INTERVAL] = { "interval", true, conf_set_interval },
    [CONF_K_SOCKET_DIR] = { "socket_dir", true, conf_set_socket_dir },
    [CONF_K_CONTROL_SOCKET] = { "control_socket", true, conf_set_control_socket },
    [CONF_K_STATE_FILE] = { "state_file", true, conf_set_state_file },
    [CONF_K_BUDGET] = { "budget", true, conf_set_budget },
    [CONF_K_CGROUP] = { "cgroup", true, conf_set_cgroup },
    [CONF_K_RESERVE] = { "reserve", true, conf_set_reserve },
    [CONF_K_STEP] = { "step", true, conf_set_step },
    [CONF_K_POLICY] = { "policy", true, conf_set_policy },
    [CONF_K_IDLE_TAX] = { "idle_tax", true, conf_set_idle_tax },
    [CONF_K_KSM] = { "ksm", true, conf_set_ksm },
    [CONF_K_ZSWAP] = { "zswap", true, conf_set_zswap },
    [CONF_K_ZSWAP_COMPRESSOR] = { "zswap_compressor", true, conf_set_zswap_compressor },
    [CONF_K_ZSWAP_MAX_POOL] = { "zswap_max_pool", true, conf_set_zswap_max_pool },
    [CONF_K_ZRAM] = { "zram", true, conf_set_zram },
    [CONF_K_ZRAM_ALGORITHM] = { "zram_algorithm", true, conf_set_zram_algorithm },
    [CONF_K_METRICS] = { "metrics", true, conf_set_metrics },
    [CONF_K_QEMU_USER] = { "qemu_user", true, conf_set_qemu_user },
    [CONF_K_QEMU_GROUP] = { "qemu_group", true, conf_set_qemu_group },
    [CONF_K_MIN] = { "min", false, conf_set_min },
    [CONF_K_MAX] = { "max", false, conf_set_max },
    [CONF_K_BUFFER] = { "buffer", false, conf_set_buffer },
    [CONF_K_SHARES] = { "shares", false, conf_set_shares },
};

/* inih strips inline comments that start with ';'; strip '#' ones too,
 * as the documented format uses them. Like inih, a comment starts after
 * whitespace. */
static void strip_hash_comment(char *v)
{
    size_t len;

    for (char *s = v; *s; s++) {
        if (*s == '#' && (s == v || isspace((unsigned char)s[-1]))) {
            *s = '\0';
            break;
        }
    }
    len = strlen(v);
    while (len > 0 && isspace((unsigned char)v[len - 1]))
        v[--len] = '\0';
}

static int conf_on_key(void *user, const char *section, const char *name, const char *value)
{
    struct conf_parser *p = user;
    const struct conf_key *k = NULL;
    char v[256];
    unsigned i;

    (void)section;  /* ours, from the reader: inih truncates long names */
    p->line_handled = true;
    if (p->kind == CONF_SEC_INVALID)
        return 1;
    /* inih reads an indented line after a key as more of that key's value. */
    if (p->line_indented && p->section_keys > 0) {
        conf_error_at(p, p->line, "indented line is read as more of the value of \"%s\"; "
                      "remove the indentation", name);
        return 1;
    }
    p->section_keys++;
    p->key = name;
    for (i = 0; i < CONF_K_COUNT; i++)
        if (strcmp(conf_keys[i].name, name) == 0)
            k = &conf_keys[i];
    if (p->kind == CONF_SEC_NONE) {
        conf_error_at(p, p->line, "%s: outside any section (start with [host], [defaults] "
                      "or [vm NAME])", name);
        return 1;
    }
    if (!k) {
        conf_key_error(p, "unknown key");
        return 1;
    }
    if (k->host != (p->kind == CONF_SEC_HOST)) {
        conf_key_error(p, "not allowed here; it belongs in %s",
                       k->host ? "[host]" : "[defaults] or [vm NAME]");
        return 1;
    }
    i = (unsigned)(k - conf_keys);
    if (p->key_line[i]) {
        conf_key_error(p, "set twice in this section (first on line %u)", p->key_line[i]);
        return 1;
    }
    p->key_line[i] = p->line;
    snprintf(v, sizeof(v), "%s", value);
    strip_hash_comment(v);
    if (v[0] == '\0') {
        conf_key_error(p, "no value");
        return 1;
    }
    k->set(p, v);
    return 1;  /* errors are collected, not handed back to inih */
}

/* Sections */

static int conf_vm_find(const struct conf *c, const char *name)
{
    for (unsigned i = 0; i < c->n_vms; i++)
        if (strcmp(c->vm_names[i], name) == 0)
            return (int)i;
    return -1;
}

static int conf_parser_add_vm(struct conf_parser *p, const char *name)
{
    struct conf *c = p->conf;
    unsigned n = c->n_vms + 1;
    char **names;
    struct conf_vm *vms;
    unsigned *lines;

    names = realloc(c->vm_names, n * sizeof(*names));
    if (!names)
        return -ENOMEM;
    c->vm_names = names;
    vms = realloc(c->vms, n * sizeof(*vms));
    if (!vms)
        return -ENOMEM;
    c->vms = vms;
    lines = realloc(p->vm_lines, n * sizeof(*lines));
    if (!lines)
        return -ENOMEM;
    p->vm_lines = lines;
    names[n - 1] = strdup(name);
    if (!names[n - 1])
        return -ENOMEM;
    vms[n - 1] = (struct conf_vm){ 0 };
    lines[n - 1] = p->line;
    c->n_vms = n;
    return 0;
}

static bool conf_vm_name_ok(const char *name)
{
    if (name[0] == '\0' || strlen(name) > CONF_VM_NAME_MAX)
        return false;
    for (const char *s = name; *s; s++)
        if (*s == '/' || !isprint((unsigned char)*s))
            return false;
    return true;
}

/* A section seen before is reported, and its keys are still checked. */
static void conf_section_once(struct conf_parser *p, unsigned *first_line)
{
    if (*first_line)
        conf_error_at(p, p->line, "duplicate section [%s] (first on line %u)", p->label,
                      *first_line);
    else
        *first_line = p->line;
}

static void conf_section_vm(struct conf_parser *p, const char *name)
{
    int i;

    if (!conf_vm_name_ok(name)) {
        conf_error_at(p, p->line, "[vm %s]: not a VM name (the QMP socket's file name: "
                      "1 to %d printable characters, no '/')", name, CONF_VM_NAME_MAX);
        return;
    }
    snprintf(p->label, sizeof(p->label), "vm %s", name);
    i = conf_vm_find(p->conf, name);
    if (i < 0) {
        if (conf_parser_add_vm(p, name) < 0) {
            p->oom = true;
            return;
        }
        i = (int)p->conf->n_vms - 1;
    } else {
        conf_section_once(p, &p->vm_lines[i]);
    }
    p->kind = CONF_SEC_VM;
    p->vm_index = (unsigned)i;
}

static void trim(char **s)
{
    size_t len;

    while (isspace((unsigned char)**s))
        (*s)++;
    len = strlen(*s);
    while (len > 0 && isspace((unsigned char)(*s)[len - 1]))
        (*s)[--len] = '\0';
}

/* s points at the '[' of a header line; inih parses the same line after us,
 * so s is not modified. */
static void conf_section_begin(struct conf_parser *p, const char *s)
{
    char buf[256], *name = buf;
    size_t len = 0;

    p->kind = CONF_SEC_INVALID;
    p->section_keys = 0;
    memset(p->key_line, 0, sizeof(p->key_line));
    /* As inih: the name ends at ']', unless an inline comment comes first. */
    for (s++; s[len] && s[len] != ']'; len++)
        if (s[len] == ';' && len > 0 && isspace((unsigned char)s[len - 1]))
            break;
    if (s[len] != ']') {
        conf_error_at(p, p->line, "section header without a closing ']'");
        return;
    }
    snprintf(buf, sizeof(buf), "%.*s", (int)len, s);
    trim(&name);
    if (strcmp(name, "host") == 0) {
        snprintf(p->label, sizeof(p->label), "host");
        conf_section_once(p, &p->host_line);
        p->kind = CONF_SEC_HOST;
    } else if (strcmp(name, "defaults") == 0) {
        snprintf(p->label, sizeof(p->label), "defaults");
        conf_section_once(p, &p->defaults_line);
        p->kind = CONF_SEC_DEFAULTS;
    } else if (strncmp(name, "vm", 2) == 0 && (name[2] == '\0' || isspace((unsigned char)name[2]))) {
        name += 2;
        trim(&name);
        conf_section_vm(p, name);
    } else {
        conf_error_at(p, p->line, "[%s]: unknown section (use [host], [defaults] or [vm NAME])",
                      name);
    }
}

/* Lines */

static void conf_check_handled(struct conf_parser *p)
{
    if (p->line_wants_handler && !p->line_handled)
        conf_error_at(p, p->line, "\"%s\": expected \"key = value\"", p->line_excerpt);
    p->line_wants_handler = false;
}

/* The ini_reader: fgets() that counts lines and looks at each first. */
static char *conf_read_line(char *buf, int size, void *stream)
{
    struct conf_parser *p = stream;
    bool too_long = false;
    size_t len;
    char *s;

    conf_check_handled(p);
    if (!fgets(buf, size, p->file))
        return NULL;
    p->line++;
    len = strlen(buf);
    if (len == (size_t)size - 1 && buf[len - 1] != '\n') {
        int ch = getc(p->file);
        too_long = ch != EOF;
        while (ch != EOF && ch != '\n')
            ch = getc(p->file);
    }
    s = buf;
    if (p->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
        s += 3;
    p->line_indented = isspace((unsigned char)*s);
    while (isspace((unsigned char)*s))
        s++;
    p->line_handled = false;
    if (*s == '\0' || *s == ';' || *s == '#')
        return buf;
    if (too_long) {
        conf_error_at(p, p->line, "line is longer than %d characters", size - 2);
        buf[0] = '\0';
        return buf;
    }
    /* inih's order: an indented line after a key continues its value. */
    if (*s == '[' && !(p->line_indented && p->section_keys > 0)) {
        conf_section_begin(p, s);
        return buf;
    }
    snprintf(p->line_excerpt, sizeof(p->line_excerpt), "%.*s", (int)strcspn(s, "\r\n"), s);
    p->line_wants_handler = true;
    return buf;
}

/* Merging */

struct conf_vm conf_vm_merge(const struct conf_vm *own, const struct conf_vm *defaults)
{
    struct conf_vm m = *defaults;

    if (own->min.set)
        m.min = own->min;
    if (own->max.set)
        m.max = own->max;
    if (own->buffer_set) {
        m.buffer_set = true;
        m.buffer_pct = own->buffer_pct;
    }
    if (own->shares_set) {
        m.shares_set = true;
        m.shares = own->shares;
    }
    return m;
}

static void conf_check_min_max(struct conf_parser *p, const struct conf_vm *own,
                               const char *label, unsigned line)
{
    struct conf_vm m = conf_vm_merge(own, &p->conf->defaults);
    char min_buf[SIZE_FMT_MAX], max_buf[SIZE_FMT_MAX];

    if (m.min.is_pct || m.max.is_pct || m.min.bytes <= m.max.bytes)
        return;
    conf_error_at(p, line, "[%s] min %s%s is larger than max %s%s", label,
                  size_format(m.min.bytes, min_buf), own->min.set ? "" : " (from [defaults])",
                  size_format(m.max.bytes, max_buf), own->max.set ? "" : " (from [defaults])");
}

static void conf_check(struct conf_parser *p)
{
    const struct conf *c = p->conf;
    char label[CONF_VM_NAME_MAX + 8];

    if (p->defaults_line)
        conf_check_min_max(p, &c->defaults, "defaults", p->defaults_line);
    for (unsigned i = 0; i < c->n_vms; i++) {
        /* Both from [defaults]: reported there. */
        if (!c->vms[i].min.set && !c->vms[i].max.set)
            continue;
        snprintf(label, sizeof(label), "vm %s", c->vm_names[i]);
        conf_check_min_max(p, &c->vms[i], label, p->vm_lines[i]);
    }
}

/* API */

struct conf *conf_new_default(void)
{
    struct conf *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->host = (struct conf_host){
        .interval_ms = 1000,
        .socket_dir = strdup("/run/balloond/qmp"),
        .control_socket = strdup(PROTO_SOCKET_DEFAULT),
        .state_file = strdup("/var/lib/balloond/state.json"),
        .budget_bytes = 0,
        .cgroup = NULL,
        .reserve = { .set = true, .is_pct = true, .pct = 5 },
        .step_bytes = 128 * MIB,
        .policy = POLICY_KIND_BALLOOND,
        .idle_tax_pct = 75,
        .ksm = true,
        .zswap = true,
        .zswap_compressor = strdup("lz4"),
        .zswap_max_pool_pct = 20,
        .zram_bytes = 0,
        .zram_algorithm = strdup("lz4"),
        .metrics_listen = strdup(CONF_METRICS_LISTEN_DEFAULT),
    };
    c->defaults = (struct conf_vm){
        .min = { .set = true, .is_pct = true, .pct = 25 },
        .max = { .set = true, .is_pct = true, .pct = 100 },
        .buffer_set = true,
        .buffer_pct = 20,
        .shares_set = true,
        .shares = 1000,
    };
    if (!c->host.socket_dir || !c->host.control_socket || !c->host.state_file ||
        !c->host.zswap_compressor || !c->host.zram_algorithm || !c->host.metrics_listen) {
        conf_free(c);
        return NULL;
    }
    return c;
}

/* Parses an open stream; path labels the messages. Takes the stream. */
static int conf_parse_stream(FILE *file, const char *path, struct conf **out, char **first_error)
{
    struct conf_parser p = { .path = path, .kind = CONF_SEC_NONE, .file = file };
    int r;

    p.conf = conf_new_default();
    if (!p.conf || !(p.conf->path = strdup(path))) {
        r = -ENOMEM;
        goto free_conf;
    }
    r = ini_parse_stream(conf_read_line, &p, conf_on_key, &p);
    conf_check_handled(&p);
    if (r == -2 || p.oom) {
        r = -ENOMEM;
        goto free_conf;
    }
    if (ferror(p.file))
        conf_error_at(&p, p.line, "read error");
    else if (r > 0 && p.n_errors == 0) /* inih saw what our reader missed */
        conf_error_at(&p, (unsigned)r, "syntax error");
    conf_check(&p);
    if (p.n_errors > CONF_ERRORS_LOGGED)
        log_err("%s: ... and %u more errors", path, p.n_errors - CONF_ERRORS_LOGGED);
    if (p.n_errors) {
        r = ferror(p.file) ? -EIO : -EINVAL;
        goto free_conf;
    }
    *out = p.conf;
    p.conf = NULL;
    r = 0;
free_conf:
    if (r < 0 && first_error) {
        *first_error = p.first_error;
        p.first_error = NULL;
    }
    free(p.first_error);
    free(p.vm_lines);
    conf_free(p.conf);
    fclose(p.file);
    return r;
}

int conf_load_ex(const char *path, struct conf **out, char **first_error)
{
    char *text;
    size_t len;
    FILE *file;
    int r;

    r = read_regular_file(path, CONF_FILE_MAX, &text, &len);
    if (r < 0) {
        char why[64];
        snprintf(why, sizeof(why), "%s", r == -EINVAL ? "not a regular file"
                 : r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
        log_err("%s: cannot open: %s", path, why);
        if (first_error && asprintf(first_error, "%s: cannot open: %s", path, why) < 0)
            *first_error = NULL;
        return r;
    }
    file = fmemopen(text, len, "r");
    if (!file) {
        r = -errno;
        free(text);
        return r;
    }
    r = conf_parse_stream(file, path, out, first_error);
    free(text);
    return r;
}

int conf_parse_string(const char *label, const char *text, struct conf **out, char **first_error)
{
    FILE *file = fmemopen((void *)text, strlen(text), "r");

    if (!file)
        return -errno;
    return conf_parse_stream(file, label, out, first_error);
}

int conf_load(const char *path, struct conf **out)
{
    return conf_load_ex(path, out, NULL);
}

void conf_free(struct conf *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < c->n_vms; i++)
        free(c->vm_names[i]);
    free(c->vm_names);
    free(c->vms);
    free(c->host.socket_dir);
    free(c->host.control_socket);
    free(c->host.state_file);
    free(c->host.cgroup);
    free(c->host.zswap_compressor);
    free(c->host.zram_algorithm);
    free(c->host.metrics_listen);
    free(c->path);
    free(c);
}

struct conf_vm conf_vm_get(const struct conf *c, const char *vm_name)
{
    int i = conf_vm_find(c, vm_name);

    if (i < 0)
        return c->defaults;
    return conf_vm_merge(&c->vms[i], &c->defaults);
}

uint64_t conf_size_resolve(const struct conf_size *s, uint64_t base_bytes)
{
    if (!s->is_pct)
        return s->bytes;
    /* base * pct / 100 without overflowing for bases near 2^64. */
    return base_bytes / 100 * s->pct + base_bytes % 100 * s->pct / 100;
}
