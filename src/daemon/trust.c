/* trust.c: who may serve a QMP socket (see trust.h). */
#include "trust.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int trust_lookup(const char *name, bool group, unsigned *id)
{
    uint64_t v;

    if (parse_u64(name, &v) == 0) {
        if (v >= (uid_t)-1)
            return -EINVAL;
        *id = (unsigned)v;
        return 0;
    }
    if (group) {
        struct group *g = getgrnam(name);
        if (!g)
            return -EINVAL;
        *id = g->gr_gid;
    } else {
        struct passwd *pw = getpwnam(name);
        if (!pw)
            return -EINVAL;
        *id = pw->pw_uid;
    }
    return 0;
}

int trust_parse(const char *list, bool groups, struct trust_ids *ids, char *bad, size_t bad_len)
{
    char *copy = strdup(list), *save = NULL;
    struct trust_ids t_ids = *ids;
    unsigned n = 0, id;
    int r = 0;

    if (!copy)
        return -ENOMEM;
    for (char *t = strtok_r(copy, " ,\t", &save); t; t = strtok_r(NULL, " ,\t", &save)) {
        if (n == TRUST_IDS_MAX) {
            snprintf(bad, bad_len, "more than %d names", TRUST_IDS_MAX);
            r = -E2BIG;
            break;
        }
        if (trust_lookup(t, groups, &id) < 0) {
            snprintf(bad, bad_len, "no such %s \"%s\"", groups ? "group" : "user", t);
            r = -EINVAL;
            break;
        }
        if (groups)
            t_ids.gids[n++] = (gid_t)id;
        else
            t_ids.uids[n++] = (uid_t)id;
    }
    free(copy);
    if (r < 0)
        return r;
    if (groups)
        t_ids.n_gids = n;
    else
        t_ids.n_uids = n;
    *ids = t_ids;
    return 0;
}

bool trust_ok(const struct trust_ids *ids, uid_t uid, gid_t gid)
{
    if (uid == 0)
        return true;
    for (unsigned i = 0; i < ids->n_uids; i++)
        if (ids->uids[i] == uid)
            return true;
    for (unsigned i = 0; i < ids->n_gids; i++)
        if (ids->gids[i] == gid)
            return true;
    return false;
}

const char *trust_describe(uid_t uid, char *buf, size_t len)
{
    struct passwd *pw = getpwuid(uid);

    if (pw)
        snprintf(buf, len, "uid %u (%s)", (unsigned)uid, pw->pw_name);
    else
        snprintf(buf, len, "uid %u", (unsigned)uid);
    return buf;
}

bool trust_refused_note(struct trust_refused *r, const char *name)
{
    char **names;
    bool *seen;

    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->names[i], name) == 0) {
            r->seen[i] = true;
            return false;
        }
    names = realloc(r->names, (r->n + 1) * sizeof(*names));
    if (names)
        r->names = names;
    seen = names ? realloc(r->seen, (r->n + 1) * sizeof(*seen)) : NULL;
    if (seen)
        r->seen = seen;
    /* Out of memory: log it again next time rather than never. */
    if (!names || !seen || !(r->names[r->n] = strdup(name)))
        return true;
    r->seen[r->n++] = true;
    return true;
}

void trust_refused_sweep(struct trust_refused *r)
{
    size_t k = 0;

    for (size_t i = 0; i < r->n; i++) {
        if (!r->seen[i]) {
            free(r->names[i]);
            continue;
        }
        r->names[k] = r->names[i];
        r->seen[k++] = false;
    }
    r->n = k;
}

void trust_refused_free(struct trust_refused *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->names[i]);
    free(r->names);
    free(r->seen);
    *r = (struct trust_refused){0};
}
