/* mgr.h: the manager: one control tick, and everything it wires together
 * (discovery of QMP sockets, the host, the VMs, the policy, the state
 * file, the control socket).
 *
 *   sample -> estimate -> decide -> act -> report
 */
#pragma once
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "conf.h"

struct mgr_options {
    bool dry_run;          /* decide and log, act on nothing */
    const char *proc_root; /* "/proc" */
    const char *sys_root;  /* "/sys" */
    bool host_tuning;      /* run KSM and compression (off: --no-host-tuning) */
};

struct mgr;
/* Takes conf over (also on failure). Checks what can be checked at start
 * (the cgroup, the socket directory, the control socket) and logs what
 * is wrong. */
int mgr_new(sd_event *ev, struct conf *conf, const struct mgr_options *opt, struct mgr **out);
/* Leaves every balloon where it is: stopping the daemon neither squeezes
 * nor releases a guest. */
void mgr_free(struct mgr *m);
/* SIGHUP: parse the file again; keep the running config if it is bad.
 * 0, or -EINVAL when the file was bad (logged). */
int mgr_reload(struct mgr *m);
