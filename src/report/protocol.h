/* protocol.h: the control protocol, shared by balloond and balloonctl (and
 * the names /metrics reads from the same snapshot): its version, its
 * commands, and every JSON key of its requests and replies. A name is
 * spelt here once; the daemon, the views and the client use the macro.
 *
 * One request line, one reply line, then close (ctl.h):
 *
 *   -> {"version":1,"command":"vm-target","vm":"web1","size":"2G"}
 *   <- {"version":1,"ok":true,"data":{...}}
 *   <- {"version":1,"ok":false,"error":"no VM named \"web2\""}
 *
 * A change that old clients cannot read (a key renamed or removed, a unit
 * changed) bumps PROTO_VERSION; a new key does not. The daemon answers a
 * request of another version with an error naming both. */
#pragma once

#define PROTO_VERSION 1
#define PROTO_SOCKET_DEFAULT "/run/balloond/ctl.sock"

/* ---- commands ------------------------------------------------------------ */
#define PROTO_CMD_STATUS    "status"     /* the snapshot */
#define PROTO_CMD_RELOAD    "reload"     /* the config file again */
#define PROTO_CMD_EVENTS    "events"     /* {since, max}: the decision log */
#define PROTO_CMD_VM_PREFIX "vm-"        /* the commands below take {vm} */
#define PROTO_CMD_VM_SHOW   "vm-show"    /* one VM's row of the snapshot */
#define PROTO_CMD_VM_SET    "vm-set"     /* {settings: ["key=value", ...]} */
#define PROTO_CMD_VM_TARGET "vm-target"  /* {size}: pin a target */
#define PROTO_CMD_VM_AUTO   "vm-auto"    /* unpin */
#define PROTO_CMD_VM_PAUSE  "vm-pause"   /* leave the VM alone */
#define PROTO_CMD_VM_RESUME "vm-resume"  /* manage it again */

/* ---- the envelope -------------------------------------------------------- */
#define PROTO_KEY_VERSION "version"
#define PROTO_KEY_COMMAND "command"
#define PROTO_KEY_OK      "ok"
#define PROTO_KEY_ERROR   "error"       /* also a VM's connection error */
#define PROTO_KEY_DATA    "data"

/* ---- request arguments --------------------------------------------------- */
#define PROTO_KEY_VM       "vm"         /* also an event's VM */
#define PROTO_KEY_SETTINGS "settings"   /* also a VM's operator settings */
#define PROTO_KEY_SIZE     "size"
#define PROTO_KEY_SINCE    "since"
#define PROTO_KEY_MAX      "max"

/* ---- the snapshot (status; vm show is one of its "vms") ------------------ */
#define PROTO_KEY_DRY_RUN         "dry_run"
#define PROTO_KEY_INTERVAL_MS     "interval_ms"
#define PROTO_KEY_POLICY          "policy"
#define PROTO_KEY_HOST            "host"
#define PROTO_KEY_VMS             "vms"
#define PROTO_KEY_DECISIONS_TOTAL "decisions_total"

/* host; the host/ modules add "ksm" and "compression" objects (tune.h) */
#define PROTO_KEY_STATE                 "state"  /* also a VM's */
#define PROTO_KEY_CGROUP                "cgroup"
#define PROTO_KEY_BUDGET_BYTES          "budget_bytes"
#define PROTO_KEY_RESERVE_BYTES         "reserve_bytes"
#define PROTO_KEY_USED_BYTES            "used_bytes"  /* also a VM's */
#define PROTO_KEY_FREE_BYTES            "free_bytes"
#define PROTO_KEY_HEADROOM_BYTES        "headroom_bytes"
#define PROTO_KEY_PSI_SOME_AVG10        "psi_some_avg10"
#define PROTO_KEY_PSI_FULL_AVG10        "psi_full_avg10"
#define PROTO_KEY_MEM_TOTAL_BYTES       "mem_total_bytes"
#define PROTO_KEY_MEM_AVAILABLE_BYTES   "mem_available_bytes"
#define PROTO_KEY_SWAP_IN_PAGES_TOTAL   "swap_in_pages_total"
#define PROTO_KEY_SWAP_OUT_PAGES_TOTAL  "swap_out_pages_total"
#define PROTO_KEY_CGROUP_OOM_KILLS_TOTAL "cgroup_oom_kills_total"

/* one VM */
#define PROTO_KEY_NAME            "name"
#define PROTO_KEY_RUNSTATE        "runstate"
#define PROTO_KEY_PID             "pid"
#define PROTO_KEY_SIZE_BYTES      "size_bytes"
#define PROTO_KEY_MIN_BYTES       "min_bytes"
#define PROTO_KEY_MAX_BYTES       "max_bytes"
#define PROTO_KEY_BUFFER_PCT      "buffer_pct"
#define PROTO_KEY_SHARES          "shares"
#define PROTO_KEY_PINNED_BYTES    "pinned_bytes"
#define PROTO_KEY_PAUSED          "paused"
#define PROTO_KEY_ACTUAL_BYTES    "actual_bytes"
#define PROTO_KEY_TARGET_BYTES    "target_bytes"
#define PROTO_KEY_AVAILABLE_BYTES "available_bytes"
#define PROTO_KEY_NEED_BYTES      "need_bytes"
#define PROTO_KEY_RSS_BYTES       "rss_bytes"
#define PROTO_KEY_STATS           "stats"
#define PROTO_KEY_PRESSURE        "pressure"
#define PROTO_KEY_DECISION        "decision"
#define PROTO_KEY_STALLED         "stalled"
#define PROTO_KEY_STALL_HOLD_S    "stall_hold_s"
#define PROTO_KEY_DEFLATE_ON_OOM  "deflate_on_oom"
#define PROTO_KEY_LAST_CHANGE     "last_change"
#define PROTO_KEY_KSM_SAVED_BYTES "ksm_saved_bytes"
#define PROTO_KEY_STALL_REASON    "stall_reason"
/* What moves its memory (vm_actuators_str), its virtio-mem device, and
 * free page reporting (issue 13). */
#define PROTO_KEY_ACTUATORS            "actuators"
#define PROTO_KEY_VMEM_PLUGGED_BYTES   "vmem_plugged_bytes"
#define PROTO_KEY_VMEM_REQUESTED_BYTES "vmem_requested_bytes"
#define PROTO_KEY_VMEM_MAX_BYTES       "vmem_max_bytes"
#define PROTO_KEY_VMEM_BLOCK_BYTES     "vmem_block_bytes"
#define PROTO_KEY_FREE_PAGE_REPORTING  "free_page_reporting"
/* size - actual: what the balloon and virtio-mem took back */
#define PROTO_KEY_RECLAIMED_BYTES      "reclaimed_bytes"
/* actual - QEMU's RSS, with free page reporting on: what the guest gave
 * back by itself (at least; QEMU's own memory is in the RSS) */
#define PROTO_KEY_GUEST_RETURNED_BYTES "guest_returned_bytes"
/* A VM's "state" when balloond manages it (vm_conn_str(VM_READY)). */
#define PROTO_VM_STATE_MANAGED    "managed"

/* ---- the decision log (events) ------------------------------------------- */
#define PROTO_KEY_EVENTS "events"
#define PROTO_KEY_NEXT   "next"
#define PROTO_KEY_SEQ    "seq"
#define PROTO_KEY_TIME   "time"
#define PROTO_KEY_TEXT   "text"
