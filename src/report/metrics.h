/* metrics.h: Prometheus exposition over HTTP (libmicrohttpd), driven by
 * the daemon's own sd-event loop (MHD's epoll fd), never by a thread of
 * its own. Every scrape renders the same status snapshot that
 * `balloonctl status` shows (report.h): one place produces state. */
#pragma once
#include <json-c/json.h>
#include <systemd/sd-event.h>

typedef json_object *(*metrics_snapshot_fn)(void *userdata);

struct metrics;
/* listen is "ADDR:PORT" ("127.0.0.1:9781", "[::1]:9781", "0.0.0.0:9781",
 * as listen_parse() in util.h takes it). Returns 0, -EINVAL for a bad address, or the bind error. */
int metrics_new(sd_event *ev, const char *listen, metrics_snapshot_fn fn, void *userdata,
                struct metrics **out);
void metrics_free(struct metrics *m);

/* Pure: a status snapshot to exposition text (malloc'ed, NUL-terminated). */
char *metrics_render(json_object *status);
