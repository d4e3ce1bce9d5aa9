/* balloonctl: the command-line client of balloond. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "util.h"

/* Exit codes scripts can rely on. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: balloonctl [OPTION]... COMMAND\n\n"
            "Commands:\n"
            "  status     the host's budget and every VM: sizes, targets, why\n"
            "  reload     make balloond read its config file again\n\n"
            "Options:\n"
            "  -s, --socket PATH  balloond's control socket (default " CTL_DEFAULT_SOCKET ")\n"
            "  -j, --json         print the daemon's answer as JSON\n"
            "  -h, --help         this text\n\n"
            "Exit status: 0 ok, 1 the daemon refused, 2 usage, 3 balloond unreachable.\n");
}

static const char *str(json_object *o, const char *key)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || !v)
        return "-";
    return json_object_get_string(v);
}

static double num(json_object *o, const char *key)
{
    json_object *v;

    return json_object_object_get_ex(o, key, &v) && v ? json_object_get_double(v) : 0;
}

static const char *size_of(json_object *o, const char *key, char buf[SIZE_FMT_MAX])
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || !v)
        return "-";
    return size_format(json_object_get_uint64(v), buf);
}

static void print_host(json_object *h)
{
    char b[SIZE_FMT_MAX], u[SIZE_FMT_MAX], r[SIZE_FMT_MAX], hr[SIZE_FMT_MAX];
    json_object *v;
    int64_t headroom = json_object_object_get_ex(h, "headroom_bytes", &v) ? json_object_get_int64(v) : 0;

    printf("host: state %s  budget %s  used %s  reserve %s  headroom %s%s  psi some %.2f full %.2f\n",
           str(h, "state"), size_of(h, "budget_bytes", b), size_of(h, "used_bytes", u),
           size_of(h, "reserve_bytes", r), headroom < 0 ? "-" : "",
           size_format((uint64_t)(headroom < 0 ? -headroom : headroom), hr), num(h, "psi_some_avg10"),
           num(h, "psi_full_avg10"));
    if (json_object_object_get_ex(h, "cgroup", &v) && v)
        printf("      budget cgroup %s, OOM kills %s\n", json_object_get_string(v),
               str(h, "cgroup_oom_kills_total"));
}

static void print_vm(json_object *vm)
{
    char a[SIZE_FMT_MAX], t[SIZE_FMT_MAX], u[SIZE_FMT_MAX], av[SIZE_FMT_MAX], rss[SIZE_FMT_MAX],
        mx[SIZE_FMT_MAX];
    json_object *v;
    const char *why = str(vm, "last_change");

    if (json_object_object_get_ex(vm, "error", &v) && v && strcmp(str(vm, "state"), "managed") != 0)
        why = json_object_get_string(v);
    else if (json_object_object_get_ex(vm, "pressure", &v) && v)
        why = json_object_get_string(v);
    printf("%-16s %-10s %-9s %7s %7s %7s %7s %7s %7s  %s\n", str(vm, "name"), str(vm, "state"),
           str(vm, "runstate"), size_of(vm, "max_bytes", mx), size_of(vm, "actual_bytes", a),
           size_of(vm, "target_bytes", t), size_of(vm, "used_bytes", u),
           size_of(vm, "available_bytes", av), size_of(vm, "rss_bytes", rss), why);
}

static void print_status(json_object *d)
{
    json_object *host, *vms;
    size_t n;

    if (json_object_object_get_ex(d, "host", &host))
        print_host(host);
    if (!json_object_object_get_ex(d, "vms", &vms) || (n = json_object_array_length(vms)) == 0) {
        printf("no VMs\n");
        return;
    }
    printf("%-16s %-10s %-9s %7s %7s %7s %7s %7s %7s  %s\n", "VM", "STATE", "RUN", "MAX", "ACTUAL",
           "TARGET", "USED", "AVAIL", "RSS", "LAST CHANGE");
    for (size_t i = 0; i < n; i++)
        print_vm(json_object_array_get_idx(vms, i));
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *sock = CTL_DEFAULT_SOCKET, *cmd;
    bool json = false;
    json_object *data = NULL;
    char *error = NULL;
    int c, r;

    while ((c = getopt_long(argc, argv, "s:jh", opts, NULL)) != -1) {
        switch (c) {
        case 's': sock = optarg; break;
        case 'j': json = true; break;
        case 'h': usage(stdout); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "balloonctl: no command given\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    cmd = argv[optind];
    if (strcmp(cmd, "status") != 0 && strcmp(cmd, "reload") != 0) {
        fprintf(stderr, "balloonctl: unknown command \"%s\" (try: status, reload)\n", cmd);
        return EXIT_USAGE;
    }
    if (optind + 1 < argc) {
        fprintf(stderr, "balloonctl: %s takes no argument (got \"%s\")\n", cmd, argv[optind + 1]);
        return EXIT_USAGE;
    }
    r = ctl_call(sock, cmd, NULL, &data, &error);
    if (r < 0) {
        fprintf(stderr, "balloonctl: %s\n", error ? error : strerror(-r));
        free(error);
        return r == -EINVAL ? EXIT_FAIL : EXIT_UNREACHABLE;
    }
    if (json)
        printf("%s\n", json_object_to_json_string_ext(data, JSON_C_TO_STRING_PRETTY));
    else if (strcmp(cmd, "status") == 0)
        print_status(data);
    else
        printf("reloaded\n");
    json_object_put(data);
    return EXIT_OK;
}
