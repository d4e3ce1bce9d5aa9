/* frontier.h: the density frontier (issue 15): for a scenario and a
 * policy, the highest overcommit ratio (configured VM memory / host
 * budget) it carries with no host OOM kill, no guest OOM kill and guest
 * pressure below a threshold, found by bisection over the ratio: the
 * scenario is run again and again with only the budget changed. */
#pragma once
#include <stdbool.h>
#include <stdio.h>

#include "runner.h"

/* The search interval and its resolution: 1x (no overcommit) to 4x, to
 * within 0.02 (8 runs after the two ends). */
#define FRONTIER_LO 1.0
#define FRONTIER_HI 4.0
#define FRONTIER_STEP 0.02
/* Every policy of policy_kind, in its order. */
#define FRONTIER_POLICIES 4

struct frontier_try {
    double ratio;
    bool pass;
    uint64_t host_oom_kills, guest_oom_kills;
    double pressure_pct;        /* guest pressure, % of guest-seconds */
};

struct frontier_cell {
    bool holds;                 /* hold is the frontier, fail the next ratio tried */
    bool at_hi;                 /* even FRONTIER_HI held */
    struct frontier_try hold, fail;
    unsigned runs;
};

/* Bisects s's budget for kind (s's budget is restored). A cell with
 * neither holds nor at_hi: FRONTIER_LO already failed (in fail).
 * 0 or -ENOMEM. */
int frontier_find(struct sim_setup *s, enum policy_kind kind, uint64_t seed, double pressure_pct,
                  struct frontier_cell *out);
/* The working-set ceiling: configured RAM over the peak, second by
 * second, of what every running guest cannot do without (its kernel's
 * reserve, its anon demand, the min watermark; during boot what the boot
 * touches) plus QEMU's overhead, less KSM's saving. No policy carries a
 * higher ratio without swapping the working set. -ENOMEM on failure. */
double frontier_ceiling(const struct sim_setup *s, uint64_t seed);
void frontier_table_head(FILE *f, double pressure_pct);
void frontier_table_row(FILE *f, const char *scenario, double ceiling, const struct frontier_cell *cells);
/* DIR/frontier.dat, DIR/frontier.gp and, with gnuplot, DIR/frontier.png. */
int frontier_plot(const char *dir, size_t n, const char *const *names, const double *ceilings,
                  const struct frontier_cell (*cells)[FRONTIER_POLICIES]);
