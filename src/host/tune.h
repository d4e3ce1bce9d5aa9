/* tune.h: the host's reclaim cascade beside the balloons, run once a tick
 * from the host's state (the ladder, README "The reclaim cascade"):
 *
 *   plenty    KSM on, slow
 *   tight     KSM scanning by pressure and by what merging yields;
 *             zswap in front of an existing swap device
 *   critical  KSM at its fastest; a zram swap device (when configured and
 *             there is no other swap)
 *
 * Ballooning itself is the policy's (policy.h). Every host setting changed
 * is recorded by the module that changes it and restored by tune_restore()
 * (on exit); with tuning disabled nothing is touched at all. */
#pragma once
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf.h"
#include "estimate.h"

struct tune;
/* Never fails for a missing KSM or zram: that rung is then left out (and
 * logged once). */
struct events;
/* Host actions are recorded in ev (the decision log). */
int tune_new(const char *sys_root, const char *proc_root, const struct conf_host *c, bool enabled,
             struct events *ev, struct tune **out);
/* Restores first. NULL is fine. */
void tune_free(struct tune *t);
void tune_tick(struct tune *t, const struct host_estimate *he, uint64_t now_ms);
/* Puts back every host setting changed. Idempotent. */
void tune_restore(struct tune *t);
/* Adds "ksm" and "compression" objects to the host's status object. */
void tune_report(const struct tune *t, json_object *host);
/* A VM's KSM savings, for its row in the status. 0 or -errno. */
int tune_vm_ksm(const struct tune *t, pid_t pid, uint64_t *saved_bytes);
