/* conf_keys.h: the config keys as one declarative table. A key is one
 * row: its section, its type (which parser, which message), where its
 * value lives, its bounds, its built-in default, and whether a reload may
 * change it. The table drives parsing (conf.c and balloonctl vm set,
 * which goes through the same parser), the defaults, the merge of
 * [vm NAME] over [defaults], and what a reload keeps (conf_keep_running).
 * A new key is one row here, a field in conf.h, and a line in
 * balloond.conf(5). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

enum conf_scope {
    CONF_SCOPE_HOST,  /* [host]: a field of struct conf_host */
    CONF_SCOPE_VM,    /* [defaults] and [vm NAME]: a field of struct conf_vm */
};

enum conf_type {
    CONF_T_DURATION,  /* uint64_t ms in [lo, hi] ("500ms", "1s", "2m") */
    CONF_T_PATH,      /* char *, absolute */
    CONF_T_SIZE,      /* uint64_t bytes, absolute only, at least lo */
    CONF_T_SIZE_PCT,  /* struct conf_size: a size or a percentage */
    CONF_T_UINT,      /* unsigned in [lo, hi] */
    CONF_T_UINT_PCT,  /* unsigned in [lo, hi], a trailing '%' allowed */
    CONF_T_BOOL,      /* bool: on/off, yes/no, true/false */
    CONF_T_ALGORITHM, /* char *: a kernel compressor name */
    CONF_T_POLICY,    /* enum policy_kind */
    CONF_T_BACKEND,   /* enum conf_backend: qmp, libvirt, both */
    CONF_T_URI,       /* char *: a libvirt connection URI */
    CONF_T_LISTEN,    /* char *: ADDRESS:PORT, or NULL for "off" */
    CONF_T_USERS,     /* struct trust_ids: user names or uids */
    CONF_T_GROUPS,    /* struct trust_ids: group names or gids */
};

struct conf_key {
    const char *name;
    enum conf_scope scope;
    enum conf_type type;
    size_t offset;      /* of the value in struct conf_host or struct conf_vm */
    size_t size;        /* of the value */
    bool has_set;       /* a struct conf_vm "*_set" flag at set_offset */
    size_t set_offset;
    uint64_t lo, hi;    /* bounds, by type (see above); 0, 0: none */
    const char *def;    /* the built-in default as config text; NULL: zero */
    bool reloadable;    /* a reload may change it; else the running value stays */
};

/* Bounds the parser's per-section bookkeeping (one line number per key). */
#define CONF_KEYS_MAX 32

extern const struct conf_key conf_keys[];
extern const size_t conf_keys_count;

/* The row for name, or NULL. */
const struct conf_key *conf_key_find(const char *name);
/* Parses value into section (&c->host for CONF_SCOPE_HOST, a struct
 * conf_vm for CONF_SCOPE_VM). 0; -EINVAL with why (the problem, as the
 * config file's messages say it after "[section] key: "); -ENOMEM. */
int conf_key_set(const struct conf_key *k, void *section, const char *value, char *why,
                 size_t why_len);
/* The built-in defaults into c (zeroed). 0 or -ENOMEM. */
int conf_keys_default(struct conf *c);
/* Frees the strings the table's keys hold in c->host. */
void conf_keys_free(struct conf_host *h);
/* "min, max, buffer, shares": the keys of a scope, for messages. */
const char *conf_keys_names(enum conf_scope scope, char *buf, size_t len);
