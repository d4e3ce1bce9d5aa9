/* ksm.h: Kernel Samepage Merging — sample its counters, decide how hard
 * ksmd should scan, set its knobs and put them back.
 *
 *   sample:  ksm_sample()        <sys>/kernel/mm/ksm and ksmd's CPU time
 *   decide:  ksm_decide.h        pure: host state + two samples -> knobs
 *   act:     ksm_apply()         writes only the knobs that differ
 *            ksm_restore()       writes back what ksm_apply() first found
 *   report:  ksm_proc_savings()  per process: <proc>/PID/ksm_merging_pages
 *
 * Every path is built from the roots given to ksm_new(), so tests run on
 * fixture trees. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ksm_decide.h"

struct ksm;

/* -ENOENT when the kernel has no KSM (<sys>/kernel/mm/ksm/run missing).
 * ksmd is looked up in <proc>/<pid>/comm here, once; without it the
 * counters simply carry no CPU time. */
int ksm_new(const char *sys_root, const char *proc_root, struct ksm **out);
/* Does not restore: call ksm_restore() first when that is wanted. */
void ksm_free(struct ksm *k);

/* -ENOENT for a missing required file, -EINVAL for a malformed one (both
 * logged with the path). Optional files (general_profit, pages_scanned,
 * advisor_*) that are missing leave their has_ flag false. */
int ksm_sample(struct ksm *k, struct ksm_counters *out);

/* ---- act ------------------------------------------------------------------ */

/* Writes the knobs of d that differ from what sysfs holds now (read again
 * here), recording each knob's original value the first time it is
 * changed. -EINVAL for run other than 0/1, -EOPNOTSUPP for the advisor on
 * a kernel without it; a failed write is logged and returned, the knobs
 * written before it stay written (and recorded). */
int ksm_apply(struct ksm *k, const struct ksm_decision *d);
/* Writes every recorded original back, advisor_mode before pages_to_scan
 * (switching the mode resets it) and run last, then forgets them. An
 * original run=2 (unmerge everything) is only written when the host's
 * MemAvailable covers pages_sharing pages; otherwise run=0 is written,
 * which stops ksmd and leaves the merged pages merged, and -ENOMEM is
 * returned. Goes on past errors; logs each, returns the first. */
int ksm_restore(struct ksm *k);
/* Whether unmerging pages_sharing pages fits in free_bytes. */
bool ksm_unmerge_fits(uint64_t pages_sharing, uint64_t page_bytes, uint64_t free_bytes);

/* ---- report --------------------------------------------------------------- */

/* One process's merged pages (<proc>/PID/ksm_merging_pages, Linux 5.19+)
 * and its profit (ksm_process_profit in <proc>/PID/ksm_stat, Linux 6.4+:
 * bytes saved minus its rmap items). Returns 0 with both written, 1 with
 * only *merging_pages written (an older kernel without the profit), or
 * -errno (-ENOENT: no such process, or a kernel without KSM stats). */
int ksm_proc_savings(const char *proc_root, pid_t pid, uint64_t *merging_pages,
                     int64_t *profit_bytes);
