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
#include "conf_keys.h"
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
    unsigned key_line[CONF_KEYS_MAX];   /* where each key was set in this section */
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
    char v[256], why[384];
    unsigned i;
    int r;

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
    k = conf_key_find(name);
    if (p->kind == CONF_SEC_NONE) {
        conf_error_at(p, p->line, "%s: outside any section (start with [host], [defaults] "
                      "or [vm NAME])", name);
        return 1;
    }
    if (!k) {
        conf_key_error(p, "unknown key");
        return 1;
    }
    if ((k->scope == CONF_SCOPE_HOST) != (p->kind == CONF_SEC_HOST)) {
        conf_key_error(p, "not allowed here; it belongs in %s",
                       k->scope == CONF_SCOPE_HOST ? "[host]" : "[defaults] or [vm NAME]");
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
    r = conf_key_set(k, k->scope == CONF_SCOPE_HOST ? (void *)&p->conf->host : (void *)conf_parser_vm(p),
                     v, why, sizeof(why));
    if (r == -ENOMEM)
        p->oom = true;
    else if (r < 0)
        conf_key_error(p, "%s", why);
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
    if (conf_keys_default(c) < 0) {
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
    conf_keys_free(&c->host);
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

static const char *const backend_names[] = {"qmp", "libvirt", "both"};

int conf_backend_parse(const char *s, enum conf_backend *out)
{
    for (size_t i = 0; i < ARRAY_SIZE(backend_names); i++)
        if (strcmp(s, backend_names[i]) == 0) {
            *out = (enum conf_backend)i;
            return 0;
        }
    return -EINVAL;
}

const char *conf_backend_str(enum conf_backend b)
{
    return (size_t)b < ARRAY_SIZE(backend_names) ? backend_names[b] : "?";
}
