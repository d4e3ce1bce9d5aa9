/* state.c: persisted targets (see state.h). */
#include "state.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct state {
    char *path;
    json_object *vms;      /* NAME -> {"target_bytes", "pid", "burst_bytes", "burst_t_s"} */
    json_object *settings; /* NAME -> {"lines", "pin_bytes", "paused"} */
    bool dirty;
};

static json_object *state_parse(const char *path, const char *text, json_object **settings)
{
    json_object *root = json_tokener_parse(text), *version, *vms, *set;

    if (!root || !json_object_is_type(root, json_type_object)) {
        log_err("%s: not a JSON object", path);
    } else if (!json_object_object_get_ex(root, "version", &version) ||
               json_object_get_int(version) != STATE_VERSION) {
        log_err("%s: unknown version (want %d)", path, STATE_VERSION);
    } else if (!json_object_object_get_ex(root, "vms", &vms) ||
               !json_object_is_type(vms, json_type_object)) {
        log_err("%s: no \"vms\" object", path);
    } else {
        json_object_get(vms);
        if (json_object_object_get_ex(root, "settings", &set) && json_object_is_type(set, json_type_object))
            *settings = json_object_get(set);
        json_object_put(root);
        return vms;
    }
    json_object_put(root);
    return NULL;
}

/* A file that cannot be used is moved out of the way, never overwritten:
 * the operator may want to see what was in it. */
static void state_set_aside(const char *path, const char *why)
{
    char bad[4096];

    snprintf(bad, sizeof(bad), "%s.bad", path);
    if (rename(path, bad) < 0)
        log_err("%s: %s; cannot set it aside as %s: %s", path, why, bad, strerror(errno));
    else
        log_err("%s: %s; set aside as %s; VMs are adopted at their current size", path, why, bad);
}

int state_load(const char *path, struct state **out)
{
    /* A thousand VMs take about 80 KiB; 1 MiB bounds a file gone wrong. */
    const size_t max = 1 << 20;
    struct state *st = calloc(1, sizeof(*st));
    char *text = NULL;
    size_t len;
    int r;

    if (!st || !(st->path = strdup(path))) {
        free(st);
        return -ENOMEM;
    }
    r = read_regular_file(path, max, &text, &len);
    if (r >= 0) {
        st->vms = state_parse(path, text, &st->settings);
        if (!st->vms)
            state_set_aside(path, "not a valid state file");
    } else if (r == -EFBIG || r == -EINVAL) {
        state_set_aside(path, r == -EFBIG ? "larger than 1 MiB" : "not a regular file");
    } else if (r != -ENOENT) {
        log_err("%s: cannot read: %s; VMs are adopted at their current size", path, strerror(-r));
    }
    free(text);
    if (!st->vms)
        st->vms = json_object_new_object();
    if (!st->settings)
        st->settings = json_object_new_object();
    *out = st;
    return 0;
}

void state_free(struct state *st)
{
    if (!st)
        return;
    json_object_put(st->vms);
    json_object_put(st->settings);
    free(st->path);
    free(st);
}

/* The entry of this QEMU process (same pid), or NULL. */
static json_object *state_entry(const struct state *st, const char *vm, pid_t pid)
{
    json_object *e, *p;

    if (!json_object_object_get_ex(st->vms, vm, &e) || !json_object_is_type(e, json_type_object) ||
        !json_object_object_get_ex(e, "pid", &p) || !json_object_is_type(p, json_type_int) ||
        json_object_get_int64(p) != pid)
        return NULL;
    return e;
}

/* A positive integer field of e, or 0. */
static uint64_t state_u64(json_object *e, const char *key)
{
    json_object *v;

    if (!json_object_object_get_ex(e, key, &v) || !json_object_is_type(v, json_type_int) ||
        json_object_get_int64(v) <= 0)
        return 0;
    return json_object_get_uint64(v);
}

int state_get(const struct state *st, const char *vm, pid_t pid, uint64_t *target_bytes)
{
    json_object *e = state_entry(st, vm, pid);
    uint64_t t = e ? state_u64(e, "target_bytes") : 0;

    if (!t)
        return 0;
    *target_bytes = t;
    return 1;
}

/* Sets e's key to v; true when that changed it. */
static bool state_put_u64(json_object *e, const char *key, uint64_t v)
{
    if (json_object_object_get_ex(e, key, NULL) && state_u64(e, key) == v)
        return false;
    json_object_object_add(e, key, json_object_new_uint64(v));
    return true;
}

void state_set(struct state *st, const char *vm, pid_t pid, uint64_t target_bytes)
{
    json_object *e = state_entry(st, vm, pid);

    if (!e) {
        e = json_object_new_object();
        json_object_object_add(e, "pid", json_object_new_int64(pid));
        json_object_object_add(st->vms, vm, e);
    }
    if (state_put_u64(e, "target_bytes", target_bytes))
        st->dirty = true;
}

int state_get_burst(const struct state *st, const char *vm, pid_t pid, uint64_t *bytes, uint64_t *t_s)
{
    json_object *e = state_entry(st, vm, pid);
    uint64_t b = e ? state_u64(e, "burst_bytes") : 0, t = e ? state_u64(e, "burst_t_s") : 0;

    if (!b || !t)
        return 0;
    *bytes = b;
    *t_s = t;
    return 1;
}

void state_set_burst(struct state *st, const char *vm, pid_t pid, uint64_t bytes, uint64_t t_s)
{
    json_object *e = state_entry(st, vm, pid);
    bool changed;

    if (!e || !bytes)
        return;
    changed = state_put_u64(e, "burst_bytes", bytes);
    changed |= state_put_u64(e, "burst_t_s", t_s);
    if (changed)
        st->dirty = true;
}

void state_forget(struct state *st, const char *vm)
{
    if (json_object_object_get_ex(st->vms, vm, NULL)) {
        json_object_object_del(st->vms, vm);
        st->dirty = true;
    }
}

int state_save(struct state *st)
{
    json_object *root;
    const char *s;
    int r;

    if (!st->dirty)
        return 0;
    root = json_object_new_object();
    json_object_object_add(root, "version", json_object_new_int(STATE_VERSION));
    json_object_object_add(root, "vms", json_object_get(st->vms));
    json_object_object_add(root, "settings", json_object_get(st->settings));
    s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);
    r = write_file_atomic(st->path, s, strlen(s));
    json_object_put(root);
    if (r < 0) {
        log_err("%s: cannot save targets: %s", st->path, strerror(-r));
        return r;
    }
    st->dirty = false;
    return 0;
}

int state_get_settings(const struct state *st, const char *vm, struct state_settings *out)
{
    json_object *e, *v;
    struct state_settings s = {0};

    if (!json_object_object_get_ex(st->settings, vm, &e) || !json_object_is_type(e, json_type_object))
        return 0;
    if (json_object_object_get_ex(e, "lines", &v) && json_object_is_type(v, json_type_string))
        s.lines = strdup(json_object_get_string(v));
    if (json_object_object_get_ex(e, "pin_bytes", &v) && json_object_is_type(v, json_type_int) &&
        json_object_get_int64(v) > 0)
        s.pin_bytes = json_object_get_uint64(v);
    /* get_boolean() reads the string "false" as true: type first. */
    s.paused = json_object_object_get_ex(e, "paused", &v) &&
               json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
    *out = s;
    return 1;
}

void state_set_settings(struct state *st, const char *vm, const struct state_settings *s)
{
    json_object *e;

    if ((!s->lines || !*s->lines) && !s->pin_bytes && !s->paused) {
        json_object_object_del(st->settings, vm);
    } else {
        e = json_object_new_object();
        if (s->lines && *s->lines)
            json_object_object_add(e, "lines", json_object_new_string(s->lines));
        if (s->pin_bytes)
            json_object_object_add(e, "pin_bytes", json_object_new_uint64(s->pin_bytes));
        if (s->paused)
            json_object_object_add(e, "paused", json_object_new_boolean(1));
        json_object_object_add(st->settings, vm, e);
    }
    st->dirty = true;
}
