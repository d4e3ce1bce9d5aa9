/* prng.h: the simulator's only source of randomness, splitmix64 (Steele,
 * Lea and Flood 2014): 64 bits of state, passes BigCrush, and one stream
 * per VM is derived from (seed, VM index), so a VM's demand does not
 * depend on how many random numbers another VM or the policy drew. */
#pragma once
#include <stdint.h>

struct prng {
    uint64_t s;
};

static inline uint64_t prng_next(struct prng *p)
{
    uint64_t z = (p->s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Stream number `stream` of `seed`. */
static inline struct prng prng_stream(uint64_t seed, uint64_t stream)
{
    struct prng p = {seed ^ (stream * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL)};

    prng_next(&p);
    return p;
}

/* Uniform in [0, 1), 53 bits. */
static inline double prng_unit(struct prng *p)
{
    return (double)(prng_next(p) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform in [lo, hi). */
static inline double prng_range(struct prng *p, double lo, double hi)
{
    return lo + (hi - lo) * prng_unit(p);
}
