/* fdwatch.h: VMs balloond could not connect to for want of file
 * descriptors, told once for all of them rather than once per VM.
 *
 * Every QMP socket costs a descriptor for as long as balloond manages
 * the VM; the last UTIL_FD_RESERVE_VMS are kept for host sampling, the state
 * file, the control socket and /metrics (util.h), so a VM past the limit
 * is not connected (its link says out_of_fds; it is retried after its
 * backoff) and everything else keeps working. The manager counts those
 * VMs every tick and says how many, and why, when the number first goes
 * above 0, when it changes by a lot, and when it is back to 0. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "vm.h"

/* A change of the count is told again when it is at least a quarter of
 * the count last told and at least this many VMs: VMs starting one by
 * one past the limit make a handful of lines, not one each. */
#define FDWATCH_RETELL_MIN 10

struct fdwatch {
    size_t told;              /* the count last told (0: none, or told back to 0) */
};

/* Whether a count of now, after told was said, is news. Pure. */
bool fdwatch_is_news(size_t told, size_t now);
/* Counts the QMP VMs of vms[0..n) out of descriptors; logs when news. */
void fdwatch_check(struct fdwatch *w, struct vm *const *vms, size_t n);
