/* balloond-sim: what-if simulator. Replays per-VM demand (a built-in
 * scenario or a CSV trace) through balloond's own estimator and policy,
 * or a peer's, on a model of the guests and the host; prints the density
 * benchmark's table. See sim/README.md. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "output.h"
#include "scenario.h"
#include "util.h"
#include "validate.h"
#include "frontier.h"

struct opts {
    const char *scenario, *trace, *csv_dir, *plot_dir, *validate_dir;
    struct scenario_opts so;
    uint64_t vm_size_bytes, budget_bytes, swap_bytes, swap_rate, seed;
    unsigned ksm_pct;
    bool ksm_set, all, timing, frontier;
    double pressure_pct;        /* --frontier's threshold */
    enum policy_kind kind;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: balloond-sim [--scenario NAME | --trace FILE] [--policy P | --all] [options]\n"
               "       balloond-sim --list\n"
               "       balloond-sim --validate DIR      (bench/density.sh's output, e.g. bench/out)\n"
               "       balloond-sim --frontier [--scenario NAME] [--pressure-max PCT] [--plot DIR]\n"
               "  --scenario NAME   a built-in scenario (default density; --list shows them)\n"
               "  --trace FILE      CSV t_s,vm,anon_bytes[,cache_bytes] (sim/README.md)\n"
               "  --vm-size SIZE    a trace's VMs' configured RAM (default 512M)\n"
               "  --policy P        balloond (default), proxmox, mom or static\n"
               "  --all             every policy, one after the other\n"
               "  --seed N          PRNG seed (default 1); printed\n"
               "  --vms N           number of VMs of a scalable scenario\n"
               "  --duration S      seconds to simulate\n"
               "  --budget SIZE     host budget (the budget cgroup's limit)\n"
               "  --qemu-overhead SIZE  QEMU's own memory per VM, in the budget (default 72M)\n"
               "  --ksm PCT         KSM saves PCT%% of guest RAM (default 0)\n"
               "  --swap SIZE@RATE  host swap device, e.g. 4G@200M (per second)\n"
               "  --csv DIR         per-run CSV (POLICY.csv, .host.csv, .events.csv)\n"
               "  --plot DIR        per-run PNG with gnuplot (CSV goes there too)\n"
               "  --time            print each run's wall time on stderr\n"
               "  --frontier        each policy's highest overcommit ratio without OOM kills and\n"
               "                    with guest pressure below --pressure-max (default 1%%), for\n"
               "                    the scenario or every built-in one; --plot DIR: frontier.png\n");
}

/* An option's value (name: the long option's name, for the message). */
static int parse_value(int c, const char *name, struct opts *o)
{
    uint64_t v;
    char *at;

    switch (c) {
    case 'p':
        if (policy_kind_parse(optarg, &o->kind) < 0) {
            fprintf(stderr, "--policy %s: use balloond, proxmox, mom or static\n", optarg);
            return -EINVAL;
        }
        return 0;
    case 'z': case 'b': case 'o':
        if (size_parse(optarg, &v) < 0 || v == 0) {
            fprintf(stderr, "--%s %s: not a size (512M, 32G)\n", name, optarg);
            return -EINVAL;
        }
        *(c == 'z' ? &o->vm_size_bytes : c == 'b' ? &o->budget_bytes : &o->so.qemu_overhead_bytes) = v;
        return 0;
    case 'S': case 'n': case 'd': case 'k':
        if (parse_u64(optarg, &v) < 0 || (c == 'k' && v > 100) || (c == 'n' && (v == 0 || v > 1000000))) {
            fprintf(stderr, "--%s: bad number '%s'\n", name, optarg);
            return -EINVAL;
        }
        if (c == 'S') o->seed = v;
        else if (c == 'n') o->so.n_vms = v;
        else if (c == 'd') o->so.duration_s = v;
        else { o->ksm_pct = (unsigned)v; o->ksm_set = true; }
        return 0;
    case 'w':
        at = strchr(optarg, '@');
        if (!at || (*at = '\0', size_parse(optarg, &o->swap_bytes) < 0) ||
            size_parse(at + 1, &o->swap_rate) < 0 || !o->swap_bytes || !o->swap_rate) {
            fprintf(stderr, "--swap: SIZE@RATE, e.g. 4G@200M\n");
            return -EINVAL;
        }
        return 0;
    }
    return -EINVAL;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"scenario", 1, NULL, 's'}, {"trace", 1, NULL, 'T'},    {"vm-size", 1, NULL, 'z'},
        {"policy", 1, NULL, 'p'},   {"all", 0, NULL, 'a'},      {"seed", 1, NULL, 'S'},
        {"vms", 1, NULL, 'n'},      {"duration", 1, NULL, 'd'}, {"budget", 1, NULL, 'b'},
        {"ksm", 1, NULL, 'k'},      {"swap", 1, NULL, 'w'},     {"csv", 1, NULL, 'c'},
        {"plot", 1, NULL, 'P'},     {"validate", 1, NULL, 'V'}, {"list", 0, NULL, 'l'},
        {"time", 0, NULL, 't'},     {"help", 0, NULL, 'h'},     {"frontier", 0, NULL, 'F'},
        {"pressure-max", 1, NULL, 'x'}, {"qemu-overhead", 1, NULL, 'o'}, {0},
    };
    int c, li = 0;

    *o = (struct opts){.vm_size_bytes = 512 * MIB, .seed = 1, .kind = POLICY_KIND_BALLOOND,
                       .pressure_pct = 1.0};
    while ((c = getopt_long(argc, argv, "h", lo, &li)) != -1) {
        switch (c) {
        case 's': o->scenario = optarg; break;
        case 'T': o->trace = optarg; break;
        case 'a': o->all = true; break;
        case 'c': o->csv_dir = optarg; break;
        case 'P': o->plot_dir = optarg; break;
        case 'V': o->validate_dir = optarg; break;
        case 't': o->timing = true; break;
        case 'F': o->frontier = true; break;
        case 'x': {
            char *end;
            o->pressure_pct = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(o->pressure_pct > 0 && o->pressure_pct <= 100)) {
                fprintf(stderr, "--pressure-max %s: a percentage in (0, 100]\n", optarg);
                return -EINVAL;
            }
            break;
        }
        case 'l': {
            size_t n;
            const struct scenario_info *l = scenario_list(&n);
            for (size_t i = 0; i < n; i++)
                printf("%-16s %s\n", l[i].name, l[i].desc);
            exit(0);
        }
        case 'h': usage(stdout); exit(0);
        case 'p': case 'z': case 'b': case 'o': case 'S': case 'n': case 'd': case 'k': case 'w':
            if (parse_value(c, lo[li].name, o) < 0)
                return -EINVAL;
            break;
        default: usage(stderr); return -EINVAL;
        }
    }
    if (optind < argc || (o->scenario && o->trace) || (o->frontier && o->trace)) {
        usage(stderr);
        return -EINVAL;
    }
    return 0;
}

static int build(const struct opts *o, struct sim_setup **out)
{
    struct trace *t;
    int r;

    if (o->trace) {
        r = trace_load(o->trace, &t);
        if (r == 0)
            r = scenario_from_trace(t, o->vm_size_bytes, o->budget_bytes, &o->so, out);
        return r;
    }
    r = scenario_build(o->scenario ? o->scenario : "density", &o->so, out);
    if (r == -ENOENT)
        fprintf(stderr, "--scenario %s: unknown (balloond-sim --list)\n", o->scenario);
    if (r == 0 && o->budget_bytes)
        (*out)->host.budget_bytes = o->budget_bytes;
    return r;
}

static int run_one(const struct opts *o, const struct sim_setup *s, enum policy_kind kind)
{
    const char *csv_dir = o->csv_dir ? o->csv_dir : o->plot_dir;
    struct output_csv *csv = NULL;
    struct sim_result res;
    struct timespec a, b;
    int r;

    if (csv_dir && (r = output_csv_open(csv_dir, s, kind, &csv)) < 0)
        return r;
    clock_gettime(CLOCK_MONOTONIC, &a);
    r = sim_run(s, kind, o->seed, csv ? output_csv_tick : NULL, csv, &res);
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (r < 0) {
        output_csv_close(csv, NULL);
        return r;
    }
    if (o->timing)
        fprintf(stderr, "%s: %zu VMs x %llu s in %.2f s (guard: %llu resets, %llu stalls)\n",
                policy_kind_str(kind), s->n_vms, (unsigned long long)s->duration_s,
                (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9,
                (unsigned long long)res.guard[GUARD_RESET], (unsigned long long)res.guard[GUARD_STALL]);
    if (o->timing) {
        uint64_t configured = 0;
        for (size_t i = 0; i < s->n_vms; i++)
            configured += s->vms[i].guest.size_bytes;
        fprintf(stderr, "%s: reclaimed on average %llu MiB of %llu MiB configured\n", policy_kind_str(kind),
                (unsigned long long)(res.reclaimed_mib_s / (s->duration_s ? s->duration_s : 1)),
                (unsigned long long)(configured >> 20));
    }
    output_table_row(stdout, &res);
    fflush(stdout);
    r = output_csv_close(csv, &res);
    if (r == 0 && o->plot_dir)
        r = output_plot(csv_dir, o->plot_dir, s, &res);
    sim_result_clear(&res);
    return r;
}

/* The host options that apply to every run. */
static void host_opts(const struct opts *o, struct sim_setup *s)
{
    if (o->ksm_set)
        s->host.ksm_pct = o->ksm_pct;
    if (o->swap_bytes) {
        s->host.swap_bytes = o->swap_bytes;
        s->host.swap_bytes_per_s = o->swap_rate;
    }
}

/* --frontier: one table row per scenario (the given one, or all). */
static int frontier(const struct opts *o)
{
    size_t n = 1, all_n;
    const struct scenario_info *all = scenario_list(&all_n);
    const char *names[16];
    double ceilings[16];
    struct frontier_cell (*cells)[FRONTIER_POLICIES];
    int r = 0;

    if (!o->scenario) {
        n = min_u64(all_n, ARRAY_SIZE(names));
        for (size_t i = 0; i < n; i++)
            names[i] = all[i].name;
    } else {
        names[0] = o->scenario;
    }
    if (!(cells = calloc(n, sizeof(*cells))))
        return -ENOMEM;
    printf("# balloond-sim --frontier, seed %llu\n\n", (unsigned long long)o->seed);
    frontier_table_head(stdout, o->pressure_pct);
    for (size_t i = 0; i < n && r == 0; i++) {
        struct sim_setup *s = NULL;
        if ((r = scenario_build(names[i], &o->so, &s)) < 0) {
            fprintf(stderr, "--scenario %s: %s\n", names[i], r == -ENOENT ? "no such scenario (--list)" : strerror(-r));
            break;
        }
        host_opts(o, s);
        ceilings[i] = frontier_ceiling(s, o->seed);
        if (ceilings[i] < 0)
            r = -ENOMEM;
        for (int k = 0; k < FRONTIER_POLICIES && r == 0; k++)
            r = frontier_find(s, (enum policy_kind)k, o->seed, o->pressure_pct, &cells[i][k]);
        sim_setup_free(s);
        if (r == 0)
            frontier_table_row(stdout, names[i], ceilings[i], cells[i]);
        fflush(stdout);
    }
    if (r == 0 && o->plot_dir)
        r = frontier_plot(o->plot_dir, n, names, ceilings, (const struct frontier_cell(*)[FRONTIER_POLICIES])cells);
    free(cells);
    return r;
}

int main(int argc, char **argv)
{
    struct sim_setup *s = NULL;
    struct opts o;
    int r;

    if (parse_args(argc, argv, &o) < 0)
        return 2;
    const char *dirs[] = {o.csv_dir, o.plot_dir};
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
        if (dirs[i] && mkdir(dirs[i], 0755) < 0 && errno != EEXIST) {
            fprintf(stderr, "%s: %s\n", dirs[i], strerror(errno));
            return 1;
        }
    if (o.validate_dir) {
        r = validate_density(o.validate_dir, o.seed, o.csv_dir, stdout);
        return r == 1 ? 0 : 1;
    }
    if (o.frontier) {
        r = frontier(&o);
        if (r < 0 && r != -ENOENT)
            fprintf(stderr, "balloond-sim: %s\n", strerror(-r));
        return r < 0 ? 1 : 0;
    }
    if (build(&o, &s) < 0)
        return o.trace || o.scenario ? 1 : 2;
    host_opts(&o, s);
    output_header(stdout, s, o.seed);
    output_table_head(stdout);
    r = 0;
    for (int k = POLICY_KIND_BALLOOND; k <= POLICY_KIND_STATIC && r == 0; k++)
        if (o.all || (enum policy_kind)k == o.kind)
            r = run_one(&o, s, (enum policy_kind)k);
    sim_setup_free(s);
    if (r < 0)
        fprintf(stderr, "balloond-sim: %s\n", strerror(-r));
    return r < 0 ? 1 : 0;
}
