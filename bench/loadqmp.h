/* loadqmp.h: what the parts of the QMP load server share (bench/loadqmp.c
 * serves the sockets, loadqmp_guest.c models the guests, loadqmp_meas.c
 * measures balloond from the server's side). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#define MIB (1024ULL * 1024)
/* MemTotal inside a guest is its logical size minus what its kernel
 * reserves at boot: 44 MiB for the 512 MiB test guests (bench/density.sh),
 * more for larger ones; 55 MiB is a middle for 512 MiB..2 GiB. */
#define GUEST_RESERVE_BYTES (55 * MIB)
/* A virtio-balloon driver inflates or deflates at roughly this rate (pages
 * handed over in batches of 256 per virtqueue kick). */
#define GUEST_BALLOON_RATE_BPS (100 * MIB)
/* QEMU throttles BALLOON_CHANGE to one event a second per VM
 * (monitor_qapi_event_conf), sending the latest value at the end. */
#define GUEST_EVENT_GAP_MS 1000
/* QEMU's guest-stats-polling-interval as balloond sets it; the guest
 * refreshes its numbers this often once asked. */
#define GUEST_STATS_MS 1000

enum profile { PROF_IDLE, PROF_GROWING, PROF_SHRINKING, PROF_CYCLIC, PROF_RISE, PROF_N };

struct guest {
    uint64_t size_bytes;   /* QEMU's -m */
    uint64_t actual_bytes; /* logical size now (RAM minus balloon) */
    uint64_t target_bytes; /* the last balloon value (size until one) */
    enum profile prof;
    double phase_s;        /* where in its profile the guest starts */
    bool stats_on;         /* guest-stats-polling-interval set */
    uint64_t stats_next_ms;
    uint64_t last_update_s; /* wall clock, as QEMU reports it */
    uint64_t used_bytes, avail_bytes, free_bytes, cache_bytes, total_bytes;
    uint64_t minor_faults, major_faults, swap_in_bytes, swap_out_bytes;
    bool event_due;        /* actual moved since the last BALLOON_CHANGE */
    uint64_t event_last_ms;
    /* measurement (loadqmp_meas.c) */
    uint64_t rise_ms;      /* a rise waiting for a raised target, or 0 */
    uint64_t rise_target_bytes;
    uint64_t last_poll_ms;
};

/* ---- the guest model (loadqmp_guest.c) ---- */
void guest_init(struct guest *g, unsigned idx, uint64_t seed);
/* Moves actual toward target over dt_ms; true when it moved. */
bool guest_move(struct guest *g, uint64_t dt_ms);
/* Refreshes the stats at now_ms (wall_s for last-update); true when the
 * guest's used memory rose suddenly (a PROF_RISE step). */
bool guest_stats_update(struct guest *g, uint64_t now_ms, uint64_t wall_s);
/* The "return" value of qom-get guest-stats, as JSON text. */
int guest_stats_json(const struct guest *g, char *buf, size_t len);
const char *guest_profile_name(enum profile p);

/* ---- measurements (loadqmp_meas.c) ---- */
enum meas_cmd { CMD_CAPS, CMD_QOM_LIST, CMD_QOM_SET, CMD_QOM_GET, CMD_SIZE, CMD_STATUS, CMD_QUERY_BALLOON,
                CMD_BALLOON, CMD_OTHER, CMD_N };

struct meas;
struct meas *meas_new(uint64_t interval_ms);
void meas_free(struct meas *m);
void meas_start(struct meas *m, uint64_t now_ms);
void meas_command(struct meas *m, enum meas_cmd c, uint64_t now_ms);
void meas_poll(struct meas *m, struct guest *g, uint64_t now_ms);
void meas_rise(struct meas *m, struct guest *g, uint64_t now_ms);
void meas_balloon(struct meas *m, struct guest *g, uint64_t value_bytes, uint64_t now_ms);
void meas_event(struct meas *m);
void meas_io(struct meas *m, size_t in_bytes, size_t out_bytes);
/* Writes the window's numbers as "key value" lines to path (atomically);
 * open: the rises of the window still waiting for a raised target. */
int meas_report(struct meas *m, const char *path, uint64_t now_ms, uint64_t open, size_t n_vms, size_t n_conn);

/* ---- the server (loadqmp.c) ---- */
#define LINE_MAX_BYTES (64 * 1024)

enum kind { K_LISTEN, K_CONN, K_TIMER, K_SIGNAL };

struct conn {
    int fd; /* -1: no client */
    bool caps;
    char *rbuf, *wbuf;
    size_t rlen, wlen, wcap;
    bool want_out;
};

struct slot {
    int lfd;
    struct conn c;
    struct guest g;
};

struct server {
    int ep, tfd, sfd;
    const char *dir, *report;
    struct slot *vms;
    size_t n, n_conn;
    struct meas *meas;
    uint64_t model_ms;
    bool stop;
};

/* ---- its QMP (loadqmp_qmp.c) ---- */
/* Queues text for the client; loadqmp.c writes it. */
void conn_out(struct conn *c, const char *text, size_t len);
/* One command line from v's client, answered into its output. */
void qmp_handle_line(struct server *s, struct slot *v, const char *line, uint64_t now_ms);
void qmp_balloon_change(struct server *s, struct slot *v);
