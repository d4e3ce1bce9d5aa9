/* command.c: control commands (see command.h). */
#include "command.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_keys.h"
#include "events.h"
#include "protocol.h"
#include "state.h"
#include "util.h"
#include "vm.h"

/* A pinned target below this would starve any Linux guest's kernel. */
#define PIN_MIN_BYTES (64ULL << 20)
/* There are four keys; balloonctl sends at most 16 arguments. A request
 * with 6000 kept the loop busy for a second (each merge rereads all). */
#define SET_KEYS_MAX 16

static json_object *fail(char **error, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_object *fail(char **error, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(error, fmt, ap) < 0)
        *error = NULL;
    va_end(ap);
    return NULL;
}

static const char *req_str(json_object *req, const char *key)
{
    json_object *v;

    return json_object_object_get_ex(req, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* The bounds of a pinned target, for `balloonctl vm target` and for one
 * read back from the state file alike. size_bytes 0: not known yet, the
 * upper bound is checked when the VM's size is. */
static int check_pin(const char *vm, uint64_t bytes, uint64_t size_bytes, char **error)
{
    char a[SIZE_FMT_MAX], b[SIZE_FMT_MAX];

    if (bytes >= PIN_MIN_BYTES && (size_bytes == 0 || bytes <= size_bytes))
        return 0;
    if (size_bytes)
        fail(error, "vm %s: a target must be between %s and the VM's size %s", vm,
             size_format(PIN_MIN_BYTES, a), size_format(size_bytes, b));
    else
        fail(error, "vm %s: a target must be at least %s, not %s", vm,
             size_format(PIN_MIN_BYTES, a), size_format(bytes, b));
    return -ERANGE;
}

int command_parse_settings(const char *vm, const char *lines, struct conf_vm *out, char **error)
{
    struct conf *c;
    char *text;
    int r;

    *error = NULL;
    if (asprintf(&text, "[vm %s]\n%s", vm, lines) < 0)
        return -ENOMEM;
    r = conf_parse_string("settings", text, &c, error);
    free(text);
    if (r < 0) {
        /* "settings:3: [vm x] min: ..." -> "[vm x] min: ...": the line
         * numbers are of our own text, not the operator's. */
        char *p = *error ? strstr(*error, ": ") : NULL;
        if (p && strncmp(*error, "settings:", 9) == 0)
            memmove(*error, p + 2, strlen(p + 2) + 1);
        return r;
    }
    *out = c->n_vms ? c->vms[0] : (struct conf_vm){0};
    conf_free(c);
    return 0;
}

void command_load_settings(struct state *st, struct vm *vm)
{
    struct state_settings s;
    char *error;

    if (vm->set.loaded || !state_get_settings(st, vm->name, &s))
        return;
    vm->set.loaded = true;
    vm->set.paused = s.paused;
    if (s.pin_bytes && check_pin(vm->name, s.pin_bytes, vm->link.size_bytes, &error) < 0) {
        log_err("saved pinned target ignored: %s", error ? error : "out of range");
        free(error);
    } else {
        vm->set.pin_bytes = s.pin_bytes;
    }
    if (s.lines && command_parse_settings(vm->name, s.lines, &vm->set.over, &error) == 0) {
        vm->set.over_lines = s.lines;
        s.lines = NULL;
    } else if (s.lines) {
        log_err("vm %s: saved settings are not valid (%s); ignored", vm->name, error ? error : "?");
        free(error);
    }
    free(s.lines);
}

static void save_settings(const struct command_host *h, struct vm *vm)
{
    struct state_settings s = {vm->set.over_lines, vm->set.pin_bytes, vm->set.paused};

    state_set_settings(h->state, vm->name, &s);
    state_save(h->state);
}

/* One "key=value" argument to one config line; merges into the VM's
 * existing lines, a key given again replacing its old line. */
static int merge_line(char **lines, const char *arg, char **error)
{
    const char *eq = strchr(arg, '=');
    size_t klen = eq ? (size_t)(eq - arg) : 0;
    char *out = NULL, *copy, *save = NULL;
    size_t len = 0;
    FILE *f;

    /* The key is a bare word: " min" or ";x" (an ini comment) passed the
     * parser and were kept as lines of their own, so repeated requests
     * grew the settings, and the state file, without bound. */
    if (!eq || klen == 0 || strspn(arg, "abcdefghijklmnopqrstuvwxyz_") != klen || strchr(arg, '\n') ||
        strchr(arg, '[')) {
        char keys[128];
        fail(error, "\"%s\": expected key=value (%s)", arg, conf_keys_names(CONF_SCOPE_VM, keys, sizeof(keys)));
        return -EINVAL;
    }
    f = open_memstream(&out, &len);
    if (!f)
        return fail(error, "out of memory"), -ENOMEM;
    copy = strdup(*lines ? *lines : "");
    if (!copy) {
        fclose(f);
        free(out);
        return fail(error, "out of memory"), -ENOMEM;
    }
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        if (!(strncmp(l, arg, klen) == 0 && (l[klen] == ' ' || l[klen] == '=')))
            fprintf(f, "%s\n", l);
    fprintf(f, "%.*s = %s\n", (int)klen, arg, eq + 1);
    free(copy);
    if (fclose(f) != 0 || !out) {
        free(out);
        return fail(error, "out of memory"), -ENOMEM;
    }
    free(*lines);
    *lines = out;
    return 0;
}

/* "min = 1G\nbuffer = 30\n" -> "min = 1G; buffer = 30", for the event log. */
static const char *settings_oneline(const char *lines, char *buf, size_t len)
{
    size_t k = 0;

    for (const char *p = lines; *p && k + 3 < len; p++) {
        if (*p != '\n')
            buf[k++] = *p;
        else if (p[1])
            buf[k++] = ';', buf[k++] = ' ';
    }
    buf[k] = '\0';
    return buf;
}

static json_object *vm_set(const struct command_host *h, struct vm *vm, json_object *req, char **error)
{
    json_object *args;
    struct conf_vm over;
    char *lines = NULL;
    size_t n;

    /* Without a copy the operator's other keys would be lost. */
    if (vm->set.over_lines && !(lines = strdup(vm->set.over_lines)))
        return fail(error, "out of memory");
    if (!json_object_object_get_ex(req, PROTO_KEY_SETTINGS, &args) || !json_object_is_type(args, json_type_array) ||
        (n = json_object_array_length(args)) == 0) {
        free(lines);
        char keys[128];
        return fail(error, "vm set needs key=value arguments (%s)", conf_keys_names(CONF_SCOPE_VM, keys, sizeof(keys)));
    }
    if (n > SET_KEYS_MAX) {
        free(lines);
        return fail(error, "vm set: %zu arguments, at most %d are taken", n, SET_KEYS_MAX);
    }
    for (size_t i = 0; i < n; i++) {
        const char *arg = json_object_get_string(json_object_array_get_idx(args, i));
        if (merge_line(&lines, arg ? arg : "", error) < 0) {
            free(lines);
            return NULL;
        }
    }
    if (command_parse_settings(vm->name, lines, &over, error) < 0) {
        free(lines);
        return NULL;
    }
    /* min <= max once both are resolved against this VM's size. */
    if (!vm_settings_fit(vm, &over, h->conf(h->ctx))) {
        free(lines);
        return fail(error, "vm %s: min would be larger than max", vm->name);
    }
    free(vm->set.over_lines);
    vm->set.over_lines = lines;
    vm->set.over = over;
    char oneline[EVENT_TEXT_MAX];
    events_add(h->events, LOG_NOTICE, vm->name, "settings changed by the operator: %s",
               settings_oneline(lines, oneline, sizeof(oneline)));
    save_settings(h, vm);
    return json_object_new_object();
}

static json_object *vm_target(const struct command_host *h, struct vm *vm, json_object *req, char **error)
{
    const char *size = req_str(req, PROTO_KEY_SIZE);
    char a[SIZE_FMT_MAX];
    uint64_t bytes;

    if (!size || size_parse(size, &bytes) < 0)
        return fail(error, "\"%s\" is not a size (use e.g. 512M or 4G)", size ? size : "");
    const char *why_not = vm_why_not_settable(vm, now_ms());
    if (why_not)
        return fail(error, "vm %s: %s", vm->name, why_not);
    if (check_pin(vm->name, bytes, vm->link.size_bytes, error) < 0)
        return NULL;
    vm->set.pin_bytes = bytes;
    events_add(h->events, LOG_NOTICE, vm->name, "target pinned to %s by the operator",
               size_format(bytes, a));
    save_settings(h, vm);
    return json_object_new_object();
}

static json_object *vm_flag(const struct command_host *h, struct vm *vm, const char *cmd)
{
    if (strcmp(cmd, PROTO_CMD_VM_AUTO) == 0) {
        if (vm->set.pin_bytes)
            events_add(h->events, LOG_NOTICE, vm->name, "unpinned: automatic management again");
        vm->set.pin_bytes = 0;
    } else {
        bool pause = strcmp(cmd, PROTO_CMD_VM_PAUSE) == 0;
        if (vm->set.paused != pause)
            events_add(h->events, LOG_NOTICE, vm->name, "%s by the operator",
                       pause ? "management paused" : "management resumed");
        vm->set.paused = pause;
    }
    save_settings(h, vm);
    return json_object_new_object();
}

static json_object *vm_show(const struct command_host *h, const char *name, char **error)
{
    json_object *row = h->snapshot(h->ctx, name);

    return row ? row : fail(error, "no VM named \"%s\"", name);
}

static json_object *events(const struct command_host *h, json_object *req)
{
    json_object *v;
    uint64_t since = 0, max = 500;

    if (json_object_object_get_ex(req, PROTO_KEY_SINCE, &v) && json_object_is_type(v, json_type_int))
        since = json_object_get_uint64(v);
    if (json_object_object_get_ex(req, PROTO_KEY_MAX, &v) && json_object_is_type(v, json_type_int))
        max = clamp_u64(json_object_get_uint64(v), 1, EVENTS_MAX);
    return events_since(h->events, since, (unsigned)max);
}

json_object *command_run(const struct command_host *h, const char *cmd, json_object *req, char **error)
{
    const char *name;
    struct vm *vm;

    if (strcmp(cmd, PROTO_CMD_STATUS) == 0)
        return h->snapshot(h->ctx, NULL);
    if (strcmp(cmd, PROTO_CMD_RELOAD) == 0)
        return h->reload(h->ctx) == 0 ? json_object_new_object()
                                  : fail(error, "the config file is not valid; the running configuration is kept (see the log)");
    if (strcmp(cmd, PROTO_KEY_EVENTS) == 0)
        return events(h, req);
    if (strncmp(cmd, PROTO_CMD_VM_PREFIX, strlen(PROTO_CMD_VM_PREFIX)) != 0)
        return fail(error, "unknown command \"%s\"", cmd);
    name = req_str(req, PROTO_KEY_VM);
    if (!name)
        return fail(error, "%s needs a VM name", cmd);
    if (strcmp(cmd, PROTO_CMD_VM_SHOW) == 0)
        return vm_show(h, name, error);
    vm = h->find_vm(h->ctx, name);
    if (!vm)
        return fail(error, "no VM named \"%s\"", name);
    if (strcmp(cmd, PROTO_CMD_VM_SET) == 0)
        return vm_set(h, vm, req, error);
    if (strcmp(cmd, PROTO_CMD_VM_TARGET) == 0)
        return vm_target(h, vm, req, error);
    if (strcmp(cmd, PROTO_CMD_VM_AUTO) == 0 || strcmp(cmd, PROTO_CMD_VM_PAUSE) == 0 || strcmp(cmd, PROTO_CMD_VM_RESUME) == 0)
        return vm_flag(h, vm, cmd);
    return fail(error, "unknown command \"%s\"", cmd);
}
