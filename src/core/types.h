/* types.h: the core's shared vocabulary, for every module that speaks of
 * the host's state or the policy in force without running the policy
 * (conf, the host actuators, the report). The names and parsers are
 * defined in policy.c. */
#pragma once

/* How much memory the host has to spare (estimate.h decides which). */
enum host_state { HOST_PLENTY, HOST_TIGHT, HOST_CRITICAL };

/* Which policy drives the balloons (config: [host] policy). The peers are
 * re-implementations of other controllers from their documented
 * behaviour, for comparison on the same guests (core/peers.c). */
enum policy_kind {
    POLICY_KIND_BALLOOND,
    POLICY_KIND_PROXMOX,  /* Proxmox VE's pvestatd auto-ballooning */
    POLICY_KIND_MOM,      /* oVirt MOM's default balloon rules */
    POLICY_KIND_STATIC,   /* no ballooning: every VM at its max */
};

const char *host_state_str(enum host_state s);
const char *policy_kind_str(enum policy_kind k);
/* 0, or -EINVAL for a name that is none of balloond, proxmox, mom, static. */
int policy_kind_parse(const char *s, enum policy_kind *out);
