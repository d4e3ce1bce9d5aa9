/* lv_worker.h: one thread for libvirt's blocking calls, so that the loop
 * never waits on libvirtd.
 *
 * Jobs run one at a time, in the order submitted: run(arg) on the worker,
 * then done(arg) on the loop thread (through an eventfd source on the
 * loop), in the same order. A libvirtd that does not answer holds up the
 * queue, never the loop: lv_worker_busy_ms() says for how long, so the
 * backend can report it ("libvirtd not answering for 12 s").
 *
 * Why not call libvirt on the loop: every call on a remote connection is
 * an RPC that blocks its caller until libvirtd answers (or keepalive gives
 * up, about interval * (count + 1) s later: 7-8 s measured with (2, 3)),
 * and a second caller's RPC only queues behind the one in flight on the
 * same socket (virnetclient.c, "passing the buck"): a "quick" call on the
 * loop (virConnectIsAlive is local, but an event (de)registration is an
 * RPC) would wait for a stuck one on the worker. So the loop thread makes
 * no libvirt call that may be an RPC; the domain event callbacks lv_loop
 * delivers on it may read what the event carries (virDomainGetName,
 * virDomainGetUUID: no RPC) and hand everything else to the worker.
 *
 * The worker blocks every signal, so signals stay the loop's (sd-event
 * signal sources need them blocked in every thread). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

/* How long lv_worker_free() waits for the queue to drain at exit before
 * it leaves a worker stuck in an RPC behind. A libvirtd that answers
 * takes milliseconds (open, lookup, suspend and resume: about 12 ms in
 * test_lv_loop.sh); one that does not would be given up by keepalive only
 * after about interval * (count + 1) s. */
#define LV_WORKER_EXIT_MS 2000

struct lv_worker;

/* Starts the worker thread; done callbacks come on ev's loop. 0 or -errno. */
int lv_worker_new(sd_event *ev, struct lv_worker **out);

/* Queues run(arg) on the worker, then done(arg) on the loop thread (done
 * may be NULL). Call on the loop thread. 0, -EINVAL (run NULL), -ENOMEM,
 * or -ESHUTDOWN once lv_worker_free() has begun. */
int lv_worker_submit(struct lv_worker *w, void (*run)(void *arg), void (*done)(void *arg),
                     void *arg);

/* How long the job now running has run, in ms (now_ms from util's
 * now_ms(), CLOCK_MONOTONIC); 0 when the worker is idle. */
uint64_t lv_worker_busy_ms(struct lv_worker *w, uint64_t now_ms);

/* Jobs submitted and not started yet (the running one not counted). */
size_t lv_worker_queued(struct lv_worker *w);

/* At exit, on the loop thread. Waits up to LV_WORKER_EXIT_MS for the
 * jobs already queued to finish, and calls the done of each that did
 * (before returning, from here). Then:
 * - if the worker is idle, joins it and frees everything;
 * - if it is still inside a run (libvirtd stopped or unreachable), the
 *   daemon's exit must not wait for it: the jobs not started are dropped
 *   (neither run nor done: their args stay the caller's), the thread is
 *   detached and frees the worker itself if its run ever returns (its
 *   done is then not called, and it never touches the loop again).
 * Accepts NULL. Returns true when every job finished (nothing of the
 * caller's is still in use), false when one was left running. */
bool lv_worker_free(struct lv_worker *w);
