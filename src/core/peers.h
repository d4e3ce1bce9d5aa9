/* peers.h: other controllers' balloon policies, re-implemented from their
 * documented behaviour, so that they can be compared with balloond's on
 * the same guests (bench/density) and in table tests. Pure, like
 * policy.c: the clock comes in host->now_ms; what must persist between
 * calls lives in *round. Every VM gets a decision; a VM a peer leaves
 * alone keeps its target. */
#pragma once
#include "policy.h"

/* What the re-implementations leave out, for every table that shows them. */
#define PEERS_NOT_MODELLED                                                                      \
    "not modelled: a ballooning-target other than Proxmox's default 80%, its migrate lock and " \
    "paused VMs, MOM's KSM controller and vdsm's guaranteed memory (MOM sees balloon_min 0, "   \
    "as on libvirt), upstream's floating-point rounding (at most a byte)"

/* Proxmox VE's auto-ballooning (pvestatd, PVE::AutoBalloon::compute_alg1):
 * every 10 s, goal = 80% of host memory - used; VMs under pressure first;
 * split by shares between each VM's min and max; at most 100 MiB per VM
 * per round; |goal| <= 10 MiB does nothing. */
void peer_proxmox(const struct policy_host *host, struct policy_round *round, size_t n,
                  const struct policy_vm *vms, struct policy_decision *out);

/* oVirt MOM's default balloon rules: every 10 s, host free = MemFree +
 * Buffers + Cached averaged over its last 10 samples (5 s apart); below
 * 20% of host memory every guest shrinks by at most 5% (keeping the
 * host's free share of it free in the guest: 20% at best, less as the
 * host runs out), otherwise grows by 5%; changes below 0.25% are skipped.
 * A guest's use is averaged the same way (policy_vm.avg_*: the caller
 * keeps each VM's samples with peer_sample()); balloon_min is 0, as MOM
 * sees it on libvirt. */
void peer_mom(const struct policy_host *host, struct policy_round *round, size_t n,
              const struct policy_vm *vms, struct policy_decision *out);

/* MOM's monitors: a sample (a, b) is kept when none was taken in the
 * last PEER_MOM_SAMPLE_MS; the oldest of PEER_MOM_SAMPLES goes. */
void peer_sample(struct peer_samples *s, uint64_t now_ms, uint64_t a, uint64_t b);
/* The mean of the kept a (b), rounded down; 0 with no sample. */
uint64_t peer_avg_a(const struct peer_samples *s);
uint64_t peer_avg_b(const struct peer_samples *s);

/* No ballooning: every VM at its max. */
void peer_static(const struct policy_host *host, size_t n, const struct policy_vm *vms,
                 struct policy_decision *out);
