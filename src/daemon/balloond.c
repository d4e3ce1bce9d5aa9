/* balloond: moves memory between QEMU guests and the host by driving
 * their virtio-balloons. Entry point: arguments, config, the loop. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "conf.h"
#include "mgr.h"
#include "util.h"

#define DEFAULT_CONFIG "/etc/balloond/balloond.conf"
#define VERSION "0.1"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: balloond [OPTION]...\n"
            "Drive the virtio-balloon of every QEMU guest whose QMP socket is in the\n"
            "socket directory, so that the host carries more guest memory than it has.\n\n"
            "  -c, --config FILE   config file (default " DEFAULT_CONFIG ";\n"
            "                      built-in defaults when that does not exist)\n"
            "  -n, --dry-run       sample and decide as usual, log every decision,\n"
            "                      send no balloon command\n"
            "  -t, --check-config  parse the config file, report, and exit\n"
            "      --no-host-tuning\n"
            "                      leave KSM, zswap and zram alone (balloons only)\n"
            "  -v, --verbose       log debug messages\n"
            "      --proc PATH     read /proc from PATH (tests)\n"
            "      --sys PATH      read and write /sys under PATH (tests)\n"
            "  -h, --help          this text\n"
            "  -V, --version       print the version\n");
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
    log_notice("SIGHUP: reloading the configuration");
    mgr_reload(userdata);
    return 0;
}

static int load_config(const char *path, bool explicit_path, struct conf **out)
{
    if (!explicit_path && access(path, F_OK) < 0) {
        log_notice("%s does not exist; running on built-in defaults", path);
        *out = conf_new_default();
        return *out ? 0 : -ENOMEM;
    }
    return conf_load(path, out);
}

struct options {
    struct mgr_options mgr;
    const char *config;
    bool explicit_config, check_only, verbose;
};

/* -1: go on; else the exit code (help, version, a usage error). */
static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"dry-run", no_argument, NULL, 'n'},
        {"check-config", no_argument, NULL, 't'}, {"verbose", no_argument, NULL, 'v'},
        {"proc", required_argument, NULL, 'P'},   {"help", no_argument, NULL, 'h'},
        {"sys", required_argument, NULL, 'S'},    {"no-host-tuning", no_argument, NULL, 'T'},
        {"version", no_argument, NULL, 'V'},      {0},
    };
    int c;

    *o = (struct options){.mgr = {.proc_root = "/proc", .sys_root = "/sys", .host_tuning = true},
                          .config = DEFAULT_CONFIG};
    while ((c = getopt_long(argc, argv, "c:ntvhV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': o->config = optarg; o->explicit_config = true; break;
        case 'n': o->mgr.dry_run = true; break;
        case 't': o->check_only = true; break;
        case 'v': o->verbose = true; break;
        case 'P': o->mgr.proc_root = optarg; break;
        case 'S': o->mgr.sys_root = optarg; break;
        case 'T': o->mgr.host_tuning = false; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("balloond " VERSION "\n"); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "balloond: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    return -1;
}

/* One descriptor per QMP socket: the soft limit (1024 by default) would
 * stop at about a thousand VMs while the hard one (systemd: 524288, or
 * the unit's LimitNOFILE) allows more. */
static void fd_limit_log(void)
{
    uint64_t was, now;
    int r = fd_limit_raise(&was, &now);

    if (r < 0)
        log_warn("descriptors: cannot raise RLIMIT_NOFILE to its hard limit: %s", strerror(-r));
    else
        log_info("descriptors: RLIMIT_NOFILE %" PRIu64 " (%s%" PRIu64 "): one per QMP socket, the last %d kept "
                 "for the host, the state file, the control socket and metrics",
                 now, was != now ? "raised from " : "the hard limit, was ", was, UTIL_FD_RESERVE_VMS);
}

/* Runs the loop until SIGTERM or SIGINT; takes conf. The exit code. */
static int run(struct conf *conf, const struct mgr_options *mo)
{
    enum policy_kind kind = conf->host.policy;
    struct mgr *m = NULL;
    sd_event *ev = NULL;
    sigset_t ss;
    int r;

    fd_limit_log();
    sigemptyset(&ss);
    sigaddset(&ss, SIGTERM);
    sigaddset(&ss, SIGINT);
    sigaddset(&ss, SIGHUP);
    sigprocmask(SIG_BLOCK, &ss, NULL);
    signal(SIGPIPE, SIG_IGN);
    r = sd_event_default(&ev);
    if (r < 0) {
        log_err("event loop: %s", strerror(-r));
        conf_free(conf);
        return 1;
    }
    r = mgr_new(ev, conf, mo, &m);
    if (r < 0) {
        log_err("not started");
        sd_event_unref(ev);
        return 1;
    }
    /* Under systemd with WatchdogSec=, sd-event sends WATCHDOG=1 at half
     * the interval from the loop itself: a wedged loop stops the pings. */
    sd_event_set_watchdog(ev, true);
    sd_event_add_signal(ev, NULL, SIGTERM, NULL, NULL);
    sd_event_add_signal(ev, NULL, SIGINT, NULL, NULL);
    sd_event_add_signal(ev, NULL, SIGHUP, on_sighup, m);
    log_notice("started: policy %s%s", policy_kind_str(kind),
               mo->dry_run ? " (dry run: no balloon command will be sent)" : "");
    sd_notify(0, "READY=1\nSTATUS=managing VMs");
    r = sd_event_loop(ev);
    sd_notify(0, "STOPPING=1");
    log_notice("stopping; every balloon stays where it is");
    mgr_free(m);
    sd_event_unref(ev);
    return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct conf *conf = NULL;
    struct options o;
    int r = parse_options(argc, argv, &o);

    if (r >= 0)
        return r;
    log_setup(o.verbose ? LOG_DEBUG : LOG_INFO, getenv("JOURNAL_STREAM") != NULL);
    if (load_config(o.config, o.explicit_config, &conf) < 0) {
        log_err("%s: not started: fix the configuration", o.config);
        return 1;
    }
    if (o.check_only) {
        printf("%s: ok\n", conf->path ? conf->path : "built-in defaults");
        conf_free(conf);
        return 0;
    }
    return run(conf, &o.mgr);
}
