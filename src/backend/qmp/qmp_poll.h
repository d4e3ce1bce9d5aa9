/* qmp_poll.h: every QMP socket in one epoll set of our own, behind a
 * single sd-event source. sd-event dispatches one source per loop pass
 * and calls epoll_wait again before the next, so a thousand ready
 * sockets cost a thousand epoll_waits over the still-ready rest
 * (quadratic: 56% of balloond's CPU at 3000 VMs, issue 12). Here one
 * wake-up serves every ready socket.
 *
 * One poller per process (the daemon has one loop), shared by the QMP
 * connections that hold a reference. An object freed while the poller
 * serves a batch is destroyed after the batch (qmp_poll_defer), so that
 * a later event of the same batch never reaches freed memory. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

struct qmp_poller;

/* Called for each ready descriptor with the object it was added with. */
typedef void (*qmp_poll_fn)(void *obj, uint32_t revents);

/* The poller of ev (created at the first call), one more reference. */
int qmp_poll_get(sd_event *ev, qmp_poll_fn fn, struct qmp_poller **out);
void qmp_poll_put(struct qmp_poller *p);
/* Watches fd for events (EPOLLIN, EPOLLOUT) on behalf of obj; mod only
 * makes a system call when the events change. 0 or -errno. */
int qmp_poll_add(struct qmp_poller *p, int fd, uint32_t events, void *obj);
int qmp_poll_mod(struct qmp_poller *p, int fd, uint32_t old_events, uint32_t events, void *obj);
void qmp_poll_del(struct qmp_poller *p, int fd);
/* True while a batch is being served. */
bool qmp_poll_busy(const struct qmp_poller *p);
/* destroy(obj) once the batch is over. 0 or -ENOMEM (then: not deferred). */
int qmp_poll_defer(struct qmp_poller *p, void (*destroy)(void *obj), void *obj);
