/* observe.h: how a report from a VM updates what balloond knows of it
 * (struct vm_observed, estimate.h). A backend translates what it hears
 * (QMP replies and events, the simulator's guest model) into these calls
 * and nothing else: the sanity checks and the settling rule live here,
 * once. Pure: the clocks are arguments. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "control.h"
#include "estimate.h"

/* The guest reports MemTotal once a second: after actual has stood still
 * this long, and the report was made this long after it last moved, the
 * report shows the balloon's current size (a deflate-on-oom guest once
 * reported its old balloon 2.5 s after a move). */
#define OBSERVE_SETTLED_MS 2500

/* The balloon's logical size (query-balloon, BALLOON_CHANGE). */
void observe_actual(struct vm_observed *o, uint64_t actual_bytes, uint64_t now_ms);
/* No actual to be had (the driver is not loaded: DeviceNotActive). */
void observe_no_actual(struct vm_observed *o);
/* A guest stats report. A report with no time (QEMU's 0: the driver never
 * sent one), unknown totals or more available than total is kept for
 * the record but not learned from. now_wall_s: the clock QEMU stamps
 * reports with. */
void observe_stats(struct vm_observed *o, const struct qmp_guest_stats *st, uint64_t now_ms,
                   uint64_t now_wall_s);
/* The stats could not be read. Returns true when there were some before. */
bool observe_no_stats(struct vm_observed *o);
/* The guest reset: its driver (and stats) are gone until it loads again;
 * it is never judged on the old ones. The tick hands the reset to the
 * guard (control.h's reset_seen) at its next run. */
void observe_reset(struct vm_observed *o);
/* The connection is lost: nothing observed is current any more. */
void observe_lost(struct vm_observed *o);
