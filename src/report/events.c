/* events.c: the in-memory decision log (see events.h). */
#include "events.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "util.h"

struct event {
    uint64_t seq;
    uint64_t wall_s;
    char vm[65];
    char text[EVENT_TEXT_MAX];
};

struct events {
    struct event ring[EVENTS_MAX];
    uint64_t next_seq; /* of the next event; the first is 1 */
};

struct events *events_new(void)
{
    struct events *e = calloc(1, sizeof(*e));

    if (e)
        e->next_seq = 1;
    return e;
}

void events_free(struct events *e)
{
    free(e);
}

static void events_vadd(struct events *e, struct ratelimit *rl, int level, const char *vm,
                        const char *fmt, va_list ap)
{
    struct event *ev = &e->ring[e->next_seq % EVENTS_MAX];

    vsnprintf(ev->text, sizeof(ev->text), fmt, ap);
    ev->seq = e->next_seq++;
    ev->wall_s = wall_now_s();
    snprintf(ev->vm, sizeof(ev->vm), "%s", vm ? vm : "");
    if (rl && vm)
        log_limited(rl, level, "vm %s: %s", vm, ev->text);
    else if (rl)
        log_limited(rl, level, "%s", ev->text);
    else if (vm)
        log_msg(level, "vm %s: %s", vm, ev->text);
    else
        log_msg(level, "%s", ev->text);
}

void events_add(struct events *e, int level, const char *vm, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    events_vadd(e, NULL, level, vm, fmt, ap);
    va_end(ap);
}

void events_add_limited(struct events *e, struct ratelimit *rl, int level, const char *vm,
                        const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    events_vadd(e, rl, level, vm, fmt, ap);
    va_end(ap);
}

json_object *events_since(const struct events *e, uint64_t since, unsigned max)
{
    json_object *root = json_object_new_object(), *list = json_object_new_array();
    uint64_t first = e->next_seq > EVENTS_MAX ? e->next_seq - EVENTS_MAX : 1;
    uint64_t seq = since + 1 > first ? since + 1 : first;

    for (unsigned n = 0; seq < e->next_seq && n < max; seq++, n++) {
        const struct event *ev = &e->ring[seq % EVENTS_MAX];
        json_object *o = json_object_new_object();
        json_object_object_add(o, PROTO_KEY_SEQ, json_object_new_uint64(ev->seq));
        json_object_object_add(o, PROTO_KEY_TIME, json_object_new_uint64(ev->wall_s));
        json_object_object_add(o, PROTO_KEY_VM, ev->vm[0] ? json_object_new_string(ev->vm) : NULL);
        json_object_object_add(o, PROTO_KEY_TEXT, json_object_new_string(ev->text));
        json_object_array_add(list, o);
    }
    json_object_object_add(root, PROTO_KEY_EVENTS, list);
    json_object_object_add(root, PROTO_KEY_NEXT, json_object_new_uint64(seq - 1));
    return root;
}
