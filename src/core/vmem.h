/* vmem.h: how one target size is carried by the actuators a VM has: a
 * virtio-mem device (whole blocks, within [0, its max size]), a balloon
 * (any page), or both. The policy decides a target logical size; this
 * decides who moves how much. Pure: no I/O, shared by both backends.
 *
 * Sizes, measured on QEMU 7.2 (test_vmem.sh): the balloon counts the
 * boot RAM only ("base": -m plus DIMMs). query-balloon's actual stays at
 * base while virtio-mem plugs 512 MiB, and `balloon` with a value above
 * base is clamped to base. So the VM's logical size is
 *     balloon actual (base without a balloon) + virtio-mem's plugged size,
 * its largest base + the device's max-size, and the balloon is asked
 * for its own share: target - the blocks requested.
 *
 *   both:          requested = target - base rounded UP to a block (the
 *                  coarse part; the guest never gets less than target),
 *                  the balloon takes back the rest (less than a block).
 *   virtio-mem:    the same blocks, and nothing takes the rest back: the
 *                  target is rounded up, in the guest's favour
 *                  (vmem_round_target), never below base.
 *   balloon only:  the balloon gets the target. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* What a VM's virtio-mem device reports (query-memory-devices, or
 * libvirt's <memory model='virtio-mem'>). Only the first device of a VM
 * is driven; present false: none. */
struct vmem_obs {
    bool present;
    uint64_t base_bytes;      /* the VM's RAM outside virtio-mem (-m, DIMMs) */
    uint64_t size_bytes;      /* plugged now (the guest's answer) */
    uint64_t requested_bytes; /* what was last asked for */
    uint64_t max_bytes;       /* the device's max-size */
    uint64_t block_bytes;     /* its block-size (2 MiB by default on x86-64) */
};

/* What to send: requested_bytes to virtio-mem (when present) and
 * balloon_bytes to the balloon (when the VM has one). */
struct vmem_plan {
    uint64_t requested_bytes;
    uint64_t balloon_bytes;
};

/* The plan for target_bytes; has_balloon: the VM has a balloon. With no
 * virtio-mem device, the balloon gets the target. */
void vmem_plan(const struct vmem_obs *v, bool has_balloon, uint64_t target_bytes, struct vmem_plan *out);
/* The logical size: balloon_actual_bytes (ignored without a balloon:
 * base) plus the plugged size. */
uint64_t vmem_logical_bytes(const struct vmem_obs *v, bool has_balloon, uint64_t balloon_actual_bytes);
/* The VM's largest logical size: base + max-size. */
uint64_t vmem_size_bytes(const struct vmem_obs *v);
/* A VM with virtio-mem and no balloon reaches only base + whole blocks:
 * its target rounded up to that (the safe direction: never below what
 * the guest was meant to get), and at most max_bytes. Any other VM's
 * target is returned as is. */
uint64_t vmem_round_target(const struct vmem_obs *v, bool has_balloon, uint64_t target_bytes,
                           uint64_t max_bytes);
/* True when the guest has not unplugged what was asked: plugged above
 * requested (its memory is busy, or it is still at it). */
bool vmem_unplug_pending(const struct vmem_obs *v);
/* Well-formed for driving: a block size that is a power of two, a
 * max-size that is a multiple of it, sizes not above max. A device that
 * is not is left alone (a peer's numbers may lie). */
bool vmem_obs_valid(const struct vmem_obs *v);
