/* validate.h: the simulator against a real density benchmark run.
 * Reads bench/density.sh's output directory (POLICY.csv,
 * POLICY.events.csv, POLICY.VM.console, and ../results.md when there),
 * replays each policy found through the density scenario with the run's
 * own boot times and budget, and compares: host and guest OOM verdicts
 * must match, each reclaim time must be within 25% of the real one. */
#pragma once
#include <stdint.h>
#include <stdio.h>

/* Prints the comparison table to out. 1 when everything matches, 0 when
 * something does not, -errno when the directory cannot be used. With
 * csv_dir, each replay's CSV goes there (output.h). */
int validate_density(const char *dir, uint64_t seed, const char *csv_dir, FILE *out);
