/* peers.c: other controllers' policies (see peers.h), re-implemented from
 * their published sources so that balloond can be compared with them on
 * the same guests. Not copies: the same arithmetic, written again in C.
 *
 * Mapping onto balloond's inputs, shared by both round-based peers:
 * - A round runs when none has run yet (round->last_ms == 0) or 10 s have
 *   passed since the last one (pvestatd's update loop and MOM's
 *   policy-engine-interval are both 10 s). Between rounds every VM keeps
 *   the target the daemon holds.
 * - The host is what policy_host says: /proc/meminfo, or a host emulated
 *   at the budget's size (tick.h). A VM that is not running is left
 *   alone. Proxmox takes VMs without fresh stats in (as under pressure,
 *   as pvestatd does with no freemem); MOM skips them (no sample).
 * - A new target is the peer's own: not clamped to balloond's [min, max]
 *   (upstream moves a VM outside its bounds back step by step). It is
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

static struct policy_decision peer_target(const struct policy_vm *v, uint64_t t)
{
    return (struct policy_decision){t, t == v->target_bytes ? POLICY_STEADY : POLICY_PEER};
}

void peer_sample(struct peer_samples *s, uint64_t now_ms, uint64_t a, uint64_t b)
{
    if (s->last_ms != 0 && now_ms - s->last_ms < PEER_MOM_SAMPLE_MS)
        return;
    s->last_ms = now_ms;
    s->a[s->head] = a;
    s->b[s->head] = b;
    s->head = (s->head + 1) % PEER_MOM_SAMPLES;
    if (s->n < PEER_MOM_SAMPLES)
        s->n++;
}

/* StatAvg: the mean of the samples kept, rounded down (MOM divides in
 * floating point: at most a byte apart). */
static uint64_t mean(const uint64_t *x, unsigned n)
{
    unsigned __int128 sum = 0;

    for (unsigned i = 0; i < n; i++)
        sum += x[i];
    return n ? (uint64_t)(sum / n) : 0;
}

uint64_t peer_avg_a(const struct peer_samples *s)
{
    return mean(s->a, s->n);
}

uint64_t peer_avg_b(const struct peer_samples *s)
{
    return mean(s->b, s->n);
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

/* compute_alg1 skips VMs without a balloon (no actual), without a balloon
 * min in their config, and with shares 0. A VM whose guest sends no
 * stats takes part: qemu-server's vmstatus then has no freemem. */
static bool pve_takes_part(const struct policy_vm *v)
{
    return v->running && v->actual_bytes && v->min_bytes && v->shares;
}

/* idlist2, "enough free memory": freemem > 25% of balloon_min and not
 * below balloon_min; every other VM, and one without stats (no freemem),
 * is in idlist1, "memory pressure". */
static bool pve_in(const struct policy_vm *v, enum pve_list list)
{
    uint64_t freemem = v->known ? v->free_bytes : 0;
    bool roomy = freemem > v->min_bytes / 4 && v->actual_bytes >= v->min_bytes;

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
 * free_bytes (the guest's MemFree). balloon_min is 0: MOM on libvirt
 * reads it from <memtune><min_guarantee>, which QEMU domains do not
 * support (vdsm would feed oVirt's guaranteed memory instead); balloond's
 * min is not MOM's. The host's mem_free and each guest's balloon_cur and
 * mem_unused are StatAvg, the mean of the last 10 samples 5 s apart
 * (struct peer_samples); balloon_cur alone, where the rules say so, and
 * the host's MemTotal are current. MOM truncates targets with int():
 * every product and quotient here rounds down. */

/* Fractions of the rules, as exact integer comparisons and divisions:
 * pressure_threshold 0.20, pressure_critical 0.05, min_guest_free_percent
 * 0.20 (1/5), max_balloon_change_percent 0.05 (1/20),
 * min_balloon_change_percent 0.0025 (1/400). host_free is the average. */
static bool mom_pressure(const struct policy_host *h, uint64_t host_free)
{
    return (unsigned __int128)host_free * 5 < h->budget_bytes;
}

static bool mom_critical(const struct policy_host *h, uint64_t host_free)
{
    return (unsigned __int128)host_free * 20 <= h->budget_bytes;
}

/* change_big_enough: more than 0.25% of balloon_cur. */
static bool mom_big_enough(int64_t cur, int64_t size)
{
    int64_t d = size > cur ? size - cur : cur - size;

    return (__int128)d * 400 > cur;
}

/* max(balloon_min = 0, used + keep): the least a guest is left with,
 * where used = StatAvg(balloon_cur) - StatAvg(mem_unused) (negative if
 * the guest says so: MOM does not correct it either). */
static int64_t mom_floor(const struct policy_vm *v, int64_t keep)
{
    uint64_t cur = v->n_avg ? v->avg_actual_bytes : v->actual_bytes;
    uint64_t unused = v->n_avg ? v->avg_free_bytes : v->free_bytes;

    return max_i64(0, (int64_t)cur - (int64_t)unused + keep);
}

/* shrink_guest: 5% of balloon_cur at most, leaving the guest free room of
 * guest_free_percent = 0.20 * host_free / 0.20 (= host free percent) of
 * balloon_cur, or when critical host_free - 0.05 (negative: the guest is
 * pushed into its swap). A guest above its balloon_max is shrunk like
 * any other, 5% a round. */
static bool mom_shrink(const struct policy_host *h, uint64_t host_free, const struct policy_vm *v,
                       int64_t *to)
{
    int64_t cur = (int64_t)v->actual_bytes;
    int64_t keep = (int64_t)((unsigned __int128)v->actual_bytes * host_free / h->budget_bytes);
    int64_t size;

    if (mom_critical(h, host_free))
        keep -= cur / 20;
    size = max_i64(cur * 19 / 20, mom_floor(v, keep));
    if (size > cur || !mom_big_enough(cur, size))
        return false;
    *to = size;
    return true;
}

/* grow_guest: a ballooned guest grows by 5% of balloon_cur, or up to 20%
 * of balloon_cur free if that is more, and never above balloon_max; a
 * guest at or above balloon_max is left as it is. */
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
    uint64_t host_free;
    bool pressure;

    keep_all(n, vms, out);
    peer_sample(&round->mom_host, host->now_ms, host->free_bytes, 0);
    if (!round_start(host, round) || host->budget_bytes == 0)
        return;
    host_free = peer_avg_a(&round->mom_host);
    pressure = mom_pressure(host, host_free);
    for (size_t i = 0; i < n; i++) {
        int64_t to;

        if (!vms[i].running || !vms[i].known)
            continue;
        if (pressure ? mom_shrink(host, host_free, &vms[i], &to) : mom_grow(&vms[i], &to))
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
