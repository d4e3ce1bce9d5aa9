/* events.h: the decision log, kept in memory for `balloonctl events`:
 * every target change and host action, with why. Each event is also
 * logged (journal or stderr) where it is recorded, so the two agree. */
#pragma once
#include <json-c/json.h>
#include <stdint.h>

/* A day of a busy host's decisions is a few thousand lines; the newest
 * 2048 are kept (about 300 KiB). */
#define EVENTS_MAX 2048
#define EVENT_TEXT_MAX 160

struct events;
struct events *events_new(void);
void events_free(struct events *e);
/* Records and logs at level (syslog LOG_*). vm may be NULL (a host event). */
void events_add(struct events *e, int level, const char *vm, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* events_add(), but the log line (not the event) goes through rl: for
 * what a peer can repeat at will (sockets coming and going). */
struct ratelimit;
void events_add_limited(struct events *e, struct ratelimit *rl, int level, const char *vm,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Events with seq > since, oldest first, at most max: {"events": [...],
 * "next": SEQ}; ask again with since = next. */
json_object *events_since(const struct events *e, uint64_t since, unsigned max);
