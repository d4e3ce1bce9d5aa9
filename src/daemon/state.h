/* state.h: targets that survive a restart of the daemon.
 *
 * A JSON file, {"version":1,"vms":{"NAME":{"target_bytes":N,"pid":P,
 * "burst_bytes":B,"burst_t_s":T}}},
 * written atomically whenever a target changes. A restarted daemon takes
 * a VM's target from here, but only for the same QEMU process (pid): a
 * VM started anew is adopted at its current size instead, so that neither
 * start nor stop squeezes or releases a guest by accident. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define STATE_VERSION 1

struct state;
/* A missing file is an empty state. A corrupt one is logged, set aside as
 * PATH.bad, and read as empty. Returns 0 or -ENOMEM. */
int state_load(const char *path, struct state **out);
void state_free(struct state *st);
/* 1 and *target_bytes when known for this pid, else 0. */
int state_get(const struct state *st, const char *vm, pid_t pid, uint64_t *target_bytes);
void state_set(struct state *st, const char *vm, pid_t pid, uint64_t target_bytes);
/* The guest's largest burst (estimate.h: bytes, and when, on the guest
 * stats' clock), kept with the target of the same QEMU process: a
 * restarted daemon that forgot it would squeeze a guest it had learned
 * must keep room for its bursts. set needs the target set first. */
int state_get_burst(const struct state *st, const char *vm, pid_t pid, uint64_t *bytes, uint64_t *t_s);
void state_set_burst(struct state *st, const char *vm, pid_t pid, uint64_t bytes, uint64_t t_s);
void state_forget(struct state *st, const char *vm);
/* The operator's settings for a VM name (balloonctl vm set / target /
 * pause), kept across restarts of the daemon and of the VM: the settings
 * as config lines ("min = 1G\nbuffer = 30\n", parsed again on load, so
 * one parser validates both), a pinned target (0: none), paused. */
struct state_settings {
    char *lines;          /* malloc'ed; NULL: none */
    uint64_t pin_bytes;
    bool paused;
};
/* 1 and *out (lines malloc'ed) when the VM has any, else 0. */
int state_get_settings(const struct state *st, const char *vm, struct state_settings *out);
void state_set_settings(struct state *st, const char *vm, const struct state_settings *s);

/* Writes the file if anything changed. Returns 0 or -errno (logged). */
int state_save(struct state *st);
