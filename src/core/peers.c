/* peers.c: other controllers' policies (see peers.h), re-implemented from
 * their published sources so that balloond can be compared with them on
 * the same guests. Not copies: the same arithmetic, written again in C.
 *
 * Mapping onto balloond's inputs, shared by both round-based peers:
 * - A round runs when none has run yet (round->last_ms == 0) or 10 s have
 *   passed since the last one (pvestatd's update loop and MOM's
 *   policy-engine-interval are both 10 s). Between rounds every VM keeps
 *   the target the daemon holds.
 * - A VM that is not running or has no fresh stats is left alone: Proxmox
 *   skips VMs without a working balloon driver, MOM guests without stats.
 * - A new target is clamped to [min, max] (balloond gives every policy the
 *   same floor and ceiling, so that the comparison is fair); it is
 *   POLICY_PEER when it differs from the held target, else POLICY_STEADY.
 * - Integer arithmetic throughout; each rounding is named where it is
 *   done. Products that may exceed 64 bits are taken in 128 bits. */
#include "peers.h"
#include "util.h"

#define PEER_ROUND_MS 10000

static int64_t max_i64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t min_i64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* True when a round is due; it is then started (last_ms = now). */
static bool round_start(const struct policy_host *h, struct policy_round *r)
{
    if (r->last_ms != 0 && h->now_ms - r->last_ms < PEER_ROUND_MS)
        return false;
    r->last_ms = h->now_ms;
    return true;
}

static void keep_all(size_t n, const struct policy_vm *vms, struct policy_decision *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (struct policy_decision){vms[i].target_bytes, POLICY_STEADY};
}

static struct policy_decision peer_target(const struct policy_vm *v, uint64_t want_bytes)
{
    uint64_t t = clamp_u64(want_bytes, v->min_bytes, v->max_bytes);

    return (struct policy_decision){t, t == v->target_bytes ? POLICY_STEADY : POLICY_PEER};
}

/* ---- Proxmox VE ------------------------------------------------------
 * After proxmox/pve-manager PVE/AutoBalloon.pm (compute_alg1) as called
 * by PVE/Service/pvestatd.pm (auto_balloning), checked against the cases
 * of test/balloontest.pl. Proxmox's names: balloon = actual_bytes,
 * balloon_min = min_bytes, maxmem = max_bytes, freemem = free_bytes,
 * memtotal = host budget_bytes, memused = host used_bytes. */

#define PVE_MAXCHANGE ((int64_t)(100 * MIB)) /* pvestatd: per VM per round */
#define PVE_DEADBAND ((int64_t)(10 * MIB)) /* compute_alg1: |goal| <= this does nothing */

enum pve_list { PVE_ALL, PVE_PRESSURE, PVE_ROOMY };

/* pvestatd: goal = int(memtotal * 0.8 - memused), the change that would
 * put the host at 80% used (the default of the node's ballooning-target). Computed exactly as (4 total - 5 used) / 5;
 * C truncates toward zero like Perl's int(). */
static int64_t pve_goal(const struct policy_host *h)
{
    return ((int64_t)h->budget_bytes * 4 - (int64_t)h->used_bytes * 5) / 5;
}

/* compute_alg1 skips VMs without a balloon driver (no stats here), without
 * a balloon min in their config, and with shares 0. */
static bool pve_takes_part(const struct policy_vm *v)
{
    return v->running && v->known && v->actual_bytes && v->min_bytes && v->shares;
}

/* idlist2, "enough free memory": freemem > 25% of balloon_min and not
 * below balloon_min; every other VM is in idlist1, "memory pressure". */
static bool pve_in(const struct policy_vm *v, enum pve_list list)
{
    bool roomy = v->free_bytes > v->min_bytes / 4 && v->actual_bytes >= v->min_bytes;

    return list == PVE_ALL || roomy == (list == PVE_ROOMY);
}

/* min + int(alloc / shares_total * shares), exact and truncated toward
 * zero (Perl divides in floating point first: at most a byte apart). */
static int64_t pve_desired(const struct policy_vm *v, int64_t alloc, uint64_t shares_total)
{
    int64_t share = (int64_t)((__int128)alloc * v->shares / (__int128)shares_total);
    int64_t desired = (int64_t)v->min_bytes + share;

    if (desired > (int64_t)v->max_bytes)
        return (int64_t)v->max_bytes;
    return max_i64(desired, (int64_t)v->min_bytes);
}

/* One VM's next size: toward desired, at most PVE_MAXCHANGE from its
 * actual. Grows only in a grow request; false when it cannot move (the
 * VM is then done for this pass). */
static bool pve_move(int64_t balloon, int64_t desired, int64_t bytes, int64_t *to)
{
    if (bytes > 0 && desired > balloon)
        *to = min_i64(balloon + PVE_MAXCHANGE, desired);
    else if (desired < balloon)
        *to = max_i64(balloon - PVE_MAXCHANGE, desired);
    else
        return false;
    return true;
}

/* compute_alg1's change_func: hand out (or take back) bytes among the VMs
 * in list by shares, between each one's min and max, and go again with
 * what is left while a pass still moves something (Perl's repeat flag is
 * set whenever progress is, so progress alone decides).
 * res[i].target_bytes holds Proxmox's res, the size decided so far.
 * Returns the rest that could not be placed. */
#define PVE_OPEN POLICY_STEADY
#define PVE_DONE POLICY_PEER
static int64_t pve_change(size_t n, const struct policy_vm *vms, enum pve_list list,
                          int64_t bytes, struct policy_decision *res)
{
    int64_t rest = bytes;
    bool progress = true;

    /* res[i].reason marks a VM done for this list (no array sized by the
     * VM count); peer_proxmox() sets every reason afresh at the end. */
    for (size_t i = 0; i < n; i++)
        res[i].reason = !pve_takes_part(&vms[i]) || !pve_in(&vms[i], list) ? PVE_DONE : PVE_OPEN;
    while (rest != 0 && progress) {
        int64_t alloc = rest, changes = 0;
        uint64_t shares_total = 0;

        progress = false;
        for (size_t i = 0; i < n; i++) {
            if (res[i].reason == PVE_DONE)
                continue;
            alloc += (int64_t)res[i].target_bytes - (int64_t)vms[i].min_bytes;
            shares_total += vms[i].shares;
        }
        for (size_t i = 0; i < n; i++) {
            int64_t desired, to, change;

            if (res[i].reason == PVE_DONE)
                continue;
            desired = pve_desired(&vms[i], alloc, shares_total);
            if (!pve_move((int64_t)vms[i].actual_bytes, desired, bytes, &to)) {
                res[i].reason = PVE_DONE;
                continue;
            }
            change = to - (int64_t)res[i].target_bytes;
            res[i].target_bytes = (uint64_t)to;
            changes += change;
            progress = progress || change != 0;
        }
        rest -= changes;
    }
    return rest;
}

void peer_proxmox(const struct policy_host *host, struct policy_round *round, size_t n,
                  const struct policy_vm *vms, struct policy_decision *out)
{
    int64_t goal, rest;

    keep_all(n, vms, out);
    if (!round_start(host, round))
        return;
    for (size_t i = 0; i < n; i++)
        if (pve_takes_part(&vms[i]))
            out[i].target_bytes = vms[i].actual_bytes;
    goal = pve_goal(host);
    if (goal > PVE_DEADBAND) {
        /* Grow: VMs under pressure first; all of them if none could. */
        rest = pve_change(n, vms, PVE_PRESSURE, goal, out);
        if (rest >= goal)
            pve_change(n, vms, PVE_ALL, rest, out);
    } else if (goal < -PVE_DEADBAND) {
        /* Shrink: VMs with enough free memory first. */
        rest = pve_change(n, vms, PVE_ROOMY, goal, out);
        if (rest <= goal)
            pve_change(n, vms, PVE_ALL, rest, out);
    }
    /* pvestatd sends balloon only where the size differs from actual;
     * elsewhere QEMU keeps the target it had. */
    for (size_t i = 0; i < n; i++) {
        uint64_t res = out[i].target_bytes;

        out[i] = (struct policy_decision){vms[i].target_bytes, POLICY_STEADY};
        if (pve_takes_part(&vms[i]) && res != vms[i].actual_bytes)
            out[i] = peer_target(&vms[i], res);
    }
}

/* ---- oVirt MOM -------------------------------------------------------
 * After oVirt/mom doc/balloon.rules (the fixed rules of commit e0f3d3b,
 * where a guest's floor is the max, not the min, of its balloon_min and
 * its use plus free room) with host free from mom/Collectors/
 * HostMemory.py (MemFree + Buffers + Cached over MemTotal). MOM's names:
 * balloon_cur = actual_bytes, balloon_max = max_bytes, mem_unused =
 * free_bytes (the guest's MemFree), balloon_min = min_bytes: vdsm feeds
 * MOM the VM's guaranteed memory there (MOM on plain libvirt gets 0); we
 * give it balloond's min, the same floor every policy gets. MOM reads
 * averages of the last samples (StatAvg); we read the current ones.
 * MOM truncates targets with int(): every product and quotient here
 * rounds down. */

/* Fractions of the rules, as exact integer comparisons and divisions:
 * pressure_threshold 0.20, pressure_critical 0.05, min_guest_free_percent
 * 0.20 (1/5), max_balloon_change_percent 0.05 (1/20),
 * min_balloon_change_percent 0.0025 (1/400). */
static bool mom_pressure(const struct policy_host *h)
{
    return (unsigned __int128)h->free_bytes * 5 < h->budget_bytes;
}

static bool mom_critical(const struct policy_host *h)
{
    return (unsigned __int128)h->free_bytes * 20 <= h->budget_bytes;
}

/* change_big_enough: more than 0.25% of balloon_cur. */
static bool mom_big_enough(int64_t cur, int64_t size)
{
    int64_t d = size > cur ? size - cur : cur - size;

    return (__int128)d * 400 > cur;
}

/* max(balloon_min, used + keep): the least a guest is left with, where
 * used = balloon_cur - mem_unused (negative if the guest says so: MOM
 * does not correct it either). */
static int64_t mom_floor(const struct policy_vm *v, int64_t keep)
{
    int64_t used = (int64_t)v->actual_bytes - (int64_t)v->free_bytes;

    return max_i64((int64_t)v->min_bytes, used + keep);
}

/* shrink_guest: 5% of balloon_cur at most, leaving the guest free room of
 * guest_free_percent = 0.20 * host_free / 0.20 (= host free percent) of
 * balloon_cur, or when critical host_free - 0.05 (negative: the guest is
 * pushed into its swap). */
static bool mom_shrink(const struct policy_host *h, const struct policy_vm *v, int64_t *to)
{
    int64_t cur = (int64_t)v->actual_bytes;
    int64_t keep = (int64_t)((unsigned __int128)v->actual_bytes * h->free_bytes / h->budget_bytes);
    int64_t size;

    if (mom_critical(h))
        keep -= cur / 20;
    size = max_i64(cur * 19 / 20, mom_floor(v, keep));
    if (size > cur || !mom_big_enough(cur, size))
        return false;
    *to = size;
    return true;
}

/* grow_guest: a ballooned guest grows by 5% of balloon_cur, or up to 20%
 * of balloon_cur free if that is more, and never above balloon_max. */
static bool mom_grow(const struct policy_vm *v, int64_t *to)
{
    int64_t cur = (int64_t)v->actual_bytes;
    int64_t size;

    if (v->actual_bytes >= v->max_bytes)
        return false;
    size = max_i64(cur * 21 / 20, mom_floor(v, cur / 5));
    size = min_i64(size, (int64_t)v->max_bytes);
    if (!mom_big_enough(cur, size))
        return false;
    *to = size;
    return true;
}

void peer_mom(const struct policy_host *host, struct policy_round *round, size_t n,
              const struct policy_vm *vms, struct policy_decision *out)
{
    bool pressure = mom_pressure(host);

    keep_all(n, vms, out);
    if (!round_start(host, round) || host->budget_bytes == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        int64_t to;

        if (!vms[i].running || !vms[i].known)
            continue;
        if (pressure ? mom_shrink(host, &vms[i], &to) : mom_grow(&vms[i], &to))
            out[i] = peer_target(&vms[i], (uint64_t)to);
    }
}

/* No ballooning: every VM at its max. */
void peer_static(const struct policy_host *host, size_t n, const struct policy_vm *vms,
                 struct policy_decision *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (struct policy_decision){vms[i].max_bytes,
                                          vms[i].target_bytes == vms[i].max_bytes ? POLICY_STEADY
                                                                                  : POLICY_PEER};
}
