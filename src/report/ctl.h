/* ctl.h: the control socket: the daemon's server and balloonctl's client.
 * The protocol (version, commands, keys) is protocol.h's.
 *
 * A unix stream socket (mode 0600, root only: the peer's uid is checked
 * with SO_PEERCRED too). One request line, one reply line, then close. */
#pragma once
#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "protocol.h"

#define CTL_REQUEST_MAX 65536
#define CTL_TIMEOUT_MS 5000

/* Answers one request: returns the "data" object, or NULL with *error set
 * (a malloc'ed message). */
typedef json_object *(*ctl_handler_fn)(const char *command, json_object *request, void *userdata,
                                       char **error);

struct ctl_server;
/* Removes a stale socket file at path, binds, listens. */
int ctl_server_new(sd_event *ev, const char *path, ctl_handler_fn fn, void *userdata,
                   struct ctl_server **out);
/* Closes and unlinks the socket. */
void ctl_server_free(struct ctl_server *s);

/* The client side, for balloonctl: a blocking call with a timeout.
 * Returns 0 and *data (owned by the caller), or a negative errno with
 * *error set (malloc'ed). */
int ctl_call(const char *path, const char *command, json_object *args, json_object **data,
             char **error);
