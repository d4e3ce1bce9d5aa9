/* lv_loop.h: libvirt's event loop implementation on balloond's sd-event
 * loop, so that libvirt's RPC client (incoming events, keepalive pings,
 * domain event dispatch) runs on our loop: no second polling loop, no
 * thread of libvirt's own.
 *
 * The contract libvirt sets (libvirt-event.h; src/util/virevent.c):
 * - add/update/remove of handles and timeouts may come from any thread:
 *   the RPC client disables its socket's watch from the thread making the
 *   call (virEventUpdateHandle(watch, 0)), polls the socket itself, and
 *   re-enables the watch when done. sd-event is not thread-safe, so a call
 *   from another thread only records the change under a mutex (watch and
 *   timer ids are handed out there and then) and wakes the loop, which
 *   applies it.
 * - a handle's ff / a timeout's ff is called after the callback can no
 *   longer run, from a clean stack: never from inside remove, where it
 *   would deadlock in libvirt. Here: on the loop thread, in a later
 *   dispatch than the remove.
 * - timeouts: -1 disabled, 0 fire on every loop iteration, N periodic
 *   every N ms (re-armed from the time it fired).
 * - the loop must keep running after the last virConnectClose: callbacks
 *   stay registered for a while (and the ff of the last one frees the
 *   connection's client).
 *
 * libvirt's callbacks carry no context pointer, so the implementation
 * lives in one process-wide state: register once, on the loop's thread,
 * before the first virConnectOpen*. */
#pragma once
#include <systemd/sd-event.h>

/* Registers the implementation on ev (which takes a reference) and records
 * the calling thread as the loop thread. 0, -EALREADY on a second call, or
 * -errno. The registration lasts as long as the process: libvirt has no
 * way to take it back. */
int lv_loop_register(sd_event *ev);

/* VIR_EVENT_HANDLE_* <-> EPOLL* (exported for the unit test). */
unsigned lv_loop_epoll_events(int vir_events);
int lv_loop_vir_events(unsigned epoll_events);
