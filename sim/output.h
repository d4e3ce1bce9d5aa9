/* output.h: what a run leaves: the density benchmark's table (same
 * columns, same definitions: bench/density.sh's header), CSV in the
 * benchmark's format, and gnuplot PNGs. */
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "runner.h"

void output_header(FILE *f, const struct sim_setup *s, uint64_t seed);
void output_table_head(FILE *f);
void output_table_row(FILE *f, const struct sim_result *r);
/* "9.5 / 11 (4/4)", "never (0/4)", "no free seen", as the benchmark. */
void output_reclaim(const struct sim_result *r, char *buf, size_t len);

/* CSV of one run: DIR/POLICY.csv (one row per VM per sample, the first
 * OUTPUT_CSV_VMS VMs; the benchmark's columns, then the decision's reason), DIR/POLICY.host.csv (one row per sample),
 * DIR/POLICY.events.csv (each free event). Samples are every second for
 * runs up to OUTPUT_CSV_POINTS seconds, sparser beyond. */
#define OUTPUT_CSV_VMS 16
#define OUTPUT_CSV_POINTS 4000
struct output_csv;
int output_csv_open(const char *dir, const struct sim_setup *s, enum policy_kind kind,
                    struct output_csv **out);
void output_csv_tick(const struct sim *s, void *userdata); /* a sim_tick_fn */
/* Writes the events and closes; 0 or -errno. */
int output_csv_close(struct output_csv *c, const struct sim_result *r);

/* DIR/POLICY.png from the CSV in csv_dir, with gnuplot. 0 or -errno. */
int output_plot(const char *csv_dir, const char *dir, const struct sim_setup *s,
                const struct sim_result *r);
/* Runs gnuplot on a script. 0 or -errno. */
int output_gnuplot(const char *script_path);
