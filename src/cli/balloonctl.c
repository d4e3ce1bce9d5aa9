/* balloonctl: the command-line client of balloond. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "protocol.h"
#include "util.h"
#include "vmlist.h"

/* Exit codes scripts can rely on. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: balloonctl [OPTION]... COMMAND [ARG]...\n\n"
            "Commands:\n"
            "  status [PATTERN]...    the host's budget and every VM: sizes, targets, why;\n"
            "                         PATTERNs (globs: 'web*') show the VMs matching any\n"
            "  top [PATTERN]...       status, live, full screen (q quits)\n"
            "  vm show NAME           one VM in detail\n"
            "  vm set NAME KEY=VALUE...  min, max (512M, 4G, 25%%), buffer (%%), shares;\n"
            "                         kept across restarts of balloond\n"
            "  vm target NAME SIZE    pin the VM's target (no automatic changes)\n"
            "  vm auto NAME           unpin: automatic management again\n"
            "  vm pause NAME          leave the VM alone (it keeps running)\n"
            "  vm resume NAME         manage it again\n"
            "  events [-f]            the decision log: what changed and why (-f: follow)\n"
            "  reload                 make balloond read its config file again\n\n"
            "Options:\n"
            "  -s, --socket PATH  balloond's control socket (default " PROTO_SOCKET_DEFAULT ")\n"
            "  -j, --json         print the daemon's answer as JSON (status, vm show, events)\n"
            "      --sort KEY     status and top: rss, target or actual (biggest first),\n"
            "                     pressure (VMs under pressure first), name\n"
            "      --top N        status and top: the first N VMs (after --sort and PATTERN)\n"
            "  -h, --help         this text\n\n"
            "Exit status: 0 ok, 1 the daemon refused (unknown VM, bad value), 2 usage,\n"
            "3 balloond unreachable.\n");
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
    int64_t headroom = json_object_object_get_ex(h, PROTO_KEY_HEADROOM_BYTES, &v) ? json_object_get_int64(v) : 0;

    printf("host: state %s  budget %s  used %s  reserve %s  headroom %s%s  psi some %.2f full %.2f\n",
           str(h, PROTO_KEY_STATE), size_of(h, PROTO_KEY_BUDGET_BYTES, b), size_of(h, PROTO_KEY_USED_BYTES, u),
           size_of(h, PROTO_KEY_RESERVE_BYTES, r), headroom < 0 ? "-" : "",
           size_format((uint64_t)(headroom < 0 ? -headroom : headroom), hr), num(h, PROTO_KEY_PSI_SOME_AVG10),
           num(h, PROTO_KEY_PSI_FULL_AVG10));
    if (json_object_object_get_ex(h, PROTO_KEY_CGROUP, &v) && v)
        printf("      budget cgroup %s, OOM kills %s\n", json_object_get_string(v),
               str(h, PROTO_KEY_CGROUP_OOM_KILLS_TOTAL));
}

static void print_vm(json_object *vm)
{
    char a[SIZE_FMT_MAX], t[SIZE_FMT_MAX], u[SIZE_FMT_MAX], av[SIZE_FMT_MAX], rss[SIZE_FMT_MAX],
        mx[SIZE_FMT_MAX];
    json_object *v;
    const char *why = str(vm, PROTO_KEY_LAST_CHANGE);

    if (json_object_object_get_ex(vm, PROTO_KEY_ERROR, &v) && v && strcmp(str(vm, PROTO_KEY_STATE), PROTO_VM_STATE_MANAGED) != 0)
        why = json_object_get_string(v);
    else if (json_object_object_get_ex(vm, PROTO_KEY_PRESSURE, &v) && v)
        why = json_object_get_string(v);
    else if (json_object_object_get_ex(vm, PROTO_KEY_STALL_REASON, &v) && v)
        why = json_object_get_string(v);
    const char *state = str(vm, PROTO_KEY_STATE);
    char held[32] = "";
    if (json_object_object_get_ex(vm, PROTO_KEY_PAUSED, &v) && json_object_get_boolean(v))
        state = "paused";
    else if (json_object_object_get_ex(vm, PROTO_KEY_STALLED, &v) && json_object_get_boolean(v))
        state = "stalled";
    else if (json_object_object_get_ex(vm, PROTO_KEY_PINNED_BYTES, &v) && v)
        state = "pinned";
    if (json_object_object_get_ex(vm, PROTO_KEY_STALL_HOLD_S, &v) && v)
        snprintf(held, sizeof(held), " (held %ss more)", json_object_get_string(v));
    printf("%-16s %-10s %-12s %7s %7s %7s %7s %7s %7s  %s%s\n", str(vm, PROTO_KEY_NAME), state,
           str(vm, PROTO_KEY_RUNSTATE), size_of(vm, PROTO_KEY_MAX_BYTES, mx), size_of(vm, PROTO_KEY_ACTUAL_BYTES, a),
           size_of(vm, PROTO_KEY_TARGET_BYTES, t), size_of(vm, PROTO_KEY_USED_BYTES, u),
           size_of(vm, PROTO_KEY_AVAILABLE_BYTES, av), size_of(vm, PROTO_KEY_RSS_BYTES, rss), why, held);
}

/* Under a VM with virtio-mem or free page reporting, one more line. */
static void print_vm_actuators(json_object *vm)
{
    char pl[SIZE_FMT_MAX], rq[SIZE_FMT_MAX], mx[SIZE_FMT_MAX], bl[SIZE_FMT_MAX], gr[SIZE_FMT_MAX];
    json_object *v;
    bool vmem = json_object_object_get_ex(vm, PROTO_KEY_VMEM_MAX_BYTES, &v) && v;
    bool fpr = json_object_object_get_ex(vm, PROTO_KEY_FREE_PAGE_REPORTING, &v) && json_object_get_boolean(v);

    if (!vmem && !fpr)
        return;
    printf("%-16s %s", "", str(vm, PROTO_KEY_ACTUATORS));
    if (vmem)
        printf(": virtio-mem %s plugged of %s (asked %s, blocks of %s)", size_of(vm, PROTO_KEY_VMEM_PLUGGED_BYTES, pl),
               size_of(vm, PROTO_KEY_VMEM_MAX_BYTES, mx), size_of(vm, PROTO_KEY_VMEM_REQUESTED_BYTES, rq),
               size_of(vm, PROTO_KEY_VMEM_BLOCK_BYTES, bl));
    if (fpr)
        printf("%s free page reporting on, %s given back by the guest itself", vmem ? ";" : ":",
               size_of(vm, PROTO_KEY_GUEST_RETURNED_BYTES, gr));
    printf("\n");
}

static void print_patterns(const struct vmlist_opts *o)
{
    for (size_t i = 0; i < o->n_patterns; i++)
        printf("%s%s", i ? " or " : "", o->patterns[i]);
}

/* The line under the table that says what --top and the patterns left out. */
static void print_left_out(const struct vmlist_opts *o, const struct vmlist_counts *c)
{
    if (c->shown == c->total)
        return;
    printf("(%zu of %zu VMs shown", c->shown, c->total);
    if (c->matching < c->total) {
        printf("; %zu not matching ", c->total - c->matching);
        print_patterns(o);
    }
    if (c->shown < c->matching)
        printf("; %zu more left out by --top %zu", c->matching - c->shown, o->top);
    printf(")\n");
}

/* d: the snapshot after vmlist_apply, which counted c. */
static void print_status(json_object *d, const struct vmlist_opts *o, const struct vmlist_counts *c)
{
    json_object *host, *vms;
    size_t n;

    if (json_object_object_get_ex(d, PROTO_KEY_HOST, &host))
        print_host(host);
    if (!json_object_object_get_ex(d, PROTO_KEY_VMS, &vms) || (n = json_object_array_length(vms)) == 0) {
        if (c->total == 0) {
            printf("no VMs\n");
            return;
        }
        printf("no VM matches ");
        print_patterns(o);
        printf(" (of %zu VMs)\n", c->total);
        return;
    }
    printf("%-16s %-10s %-12s %7s %7s %7s %7s %7s %7s  %s\n", "VM", "STATE", "RUN", "MAX", "ACTUAL",
           "TARGET", "USED", "AVAIL", "RSS", "LAST CHANGE");
    for (size_t i = 0; i < n; i++) {
        print_vm(json_object_array_get_idx(vms, i));
        print_vm_actuators(json_object_array_get_idx(vms, i));
    }
    print_left_out(o, c);
}

/* The VMs o selects, kept in d; EXIT_OK or EXIT_FAIL (out of memory). */
static int select_vms(json_object *d, const struct vmlist_opts *o, struct vmlist_counts *c)
{
    if (vmlist_apply(d, o, c) < 0) {
        fprintf(stderr, "balloonctl: out of memory\n");
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

static void print_vm_detail(json_object *vm)
{
    json_object_object_foreach(vm, key, val)
    {
        char b[SIZE_FMT_MAX];
        size_t len = strlen(key);
        if (len > 6 && strcmp(key + len - 6, "_bytes") == 0 && val &&
            json_object_is_type(val, json_type_int))
            printf("%-*s %s\n", 20, key, size_format(json_object_get_uint64(val), b));
        else
            printf("%-*s %s\n", 20, key, val ? json_object_get_string(val) : "-");
    }
}

/* Prints the events of one reply; returns the next "since". */
static uint64_t print_events(json_object *d, bool json)
{
    json_object *list, *next;
    size_t n;

    if (!json_object_object_get_ex(d, PROTO_KEY_EVENTS, &list))
        return 0;
    n = json_object_array_length(list);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(list, i), *t, *vm, *text;
        char when[32] = "?";
        if (json) {
            printf("%s\n", json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
            continue;
        }
        if (json_object_object_get_ex(e, PROTO_KEY_TIME, &t)) {
            time_t ts = (time_t)json_object_get_int64(t);
            strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&ts));
        }
        json_object_object_get_ex(e, PROTO_KEY_VM, &vm);
        json_object_object_get_ex(e, PROTO_KEY_TEXT, &text);
        printf("%s  %-12s %s\n", when, vm ? json_object_get_string(vm) : "(host)", json_object_get_string(text));
    }
    fflush(stdout);
    return json_object_object_get_ex(d, PROTO_KEY_NEXT, &next) ? json_object_get_uint64(next) : 0;
}

static int call(const char *sock, const char *cmd, json_object *args, json_object **data)
{
    char *error = NULL;
    int r = ctl_call(sock, cmd, args, data, &error);

    if (r < 0) {
        fprintf(stderr, "balloonctl: %s\n", error ? error : strerror(-r));
        free(error);
        return r == -EINVAL ? EXIT_FAIL : EXIT_UNREACHABLE;
    }
    return EXIT_OK;
}

static int cmd_events(const char *sock, bool json, bool follow)
{
    uint64_t since = 0;

    for (;;) {
        json_object *args = json_object_new_object(), *d;
        int r;
        json_object_object_add(args, PROTO_KEY_SINCE, json_object_new_uint64(since));
        r = call(sock, PROTO_CMD_EVENTS, args, &d);
        if (r != EXIT_OK)
            return r;
        since = print_events(d, json);
        json_object_put(d);
        if (!follow)
            return EXIT_OK;
        usleep(500 * 1000);
    }
}

static volatile sig_atomic_t top_stop;
static void on_top_signal(int sig)
{
    top_stop = 1;
}

/* Full screen, refreshed every second, until q or a signal. */
static int cmd_top(const char *sock, const struct vmlist_opts *o)
{
    struct termios old, raw;
    int rc = EXIT_OK;

    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "balloonctl: top needs a terminal (use status, or status --json)\n");
        return EXIT_USAGE;
    }
    tcgetattr(STDIN_FILENO, &old);
    raw = old;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    signal(SIGINT, on_top_signal);
    signal(SIGTERM, on_top_signal);
    printf("\033[?1049h\033[?25l"); /* alternate screen, no cursor */
    while (!top_stop) {
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        json_object *d;
        struct vmlist_counts counts;
        char c;
        time_t now = time(NULL);
        rc = call(sock, PROTO_CMD_STATUS, NULL, &d);
        printf("\033[H\033[2J");
        if (rc == EXIT_OK)
            rc = select_vms(d, o, &counts);
        if (rc != EXIT_OK)
            break;
        printf("balloond  %s", ctime(&now));
        print_status(d, o, &counts);
        printf("\n(q to quit)\n");
        fflush(stdout);
        json_object_put(d);
        if (poll(&p, 1, 1000) > 0 && read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q'))
            break;
    }
    printf("\033[?25h\033[?1049l");
    fflush(stdout);
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    return rc;
}

/* "vm VERB NAME [ARG...]" */
static int cmd_vm(const char *sock, bool json, int argc, char **argv)
{
    static const struct {
        const char *verb, *command;
        int min_args, max_args; /* after NAME */
    } verbs[] = {
        {"show", PROTO_CMD_VM_SHOW, 0, 0},   {"set", PROTO_CMD_VM_SET, 1, 16},       {"target", PROTO_CMD_VM_TARGET, 1, 1},
        {"auto", PROTO_CMD_VM_AUTO, 0, 0},   {"pause", PROTO_CMD_VM_PAUSE, 0, 0},    {"resume", PROTO_CMD_VM_RESUME, 0, 0},
    };
    json_object *args, *d;
    size_t i;
    int r;

    if (argc < 2) {
        fprintf(stderr, "balloonctl: vm needs a verb and a VM name (show, set, target, auto, pause, resume)\n");
        return EXIT_USAGE;
    }
    for (i = 0; i < ARRAY_SIZE(verbs); i++)
        if (strcmp(argv[0], verbs[i].verb) == 0)
            break;
    if (i == ARRAY_SIZE(verbs)) {
        fprintf(stderr, "balloonctl: unknown vm verb \"%s\" (show, set, target, auto, pause, resume)\n", argv[0]);
        return EXIT_USAGE;
    }
    if (argc - 2 < verbs[i].min_args || argc - 2 > verbs[i].max_args) {
        fprintf(stderr, "balloonctl: vm %s: wrong number of arguments (see balloonctl --help)\n", argv[0]);
        return EXIT_USAGE;
    }
    args = json_object_new_object();
    json_object_object_add(args, PROTO_KEY_VM, json_object_new_string(argv[1]));
    if (strcmp(argv[0], "set") == 0) {
        json_object *list = json_object_new_array();
        for (int k = 2; k < argc; k++)
            json_object_array_add(list, json_object_new_string(argv[k]));
        json_object_object_add(args, PROTO_KEY_SETTINGS, list);
    } else if (strcmp(argv[0], "target") == 0) {
        uint64_t bytes;
        if (size_parse(argv[2], &bytes) < 0) {
            fprintf(stderr, "balloonctl: \"%s\" is not a size (use e.g. 512M or 4G)\n", argv[2]);
            json_object_put(args);
            return EXIT_USAGE;
        }
        json_object_object_add(args, PROTO_KEY_SIZE, json_object_new_string(argv[2]));
    }
    r = call(sock, verbs[i].command, args, &d);
    if (r != EXIT_OK)
        return r;
    if (strcmp(argv[0], "show") != 0)
        printf("vm %s: ok\n", argv[1]);
    else if (json)
        printf("%s\n", json_object_to_json_string_ext(d, JSON_C_TO_STRING_PRETTY));
    else
        print_vm_detail(d);
    json_object_put(d);
    return EXIT_OK;
}

/* The snapshot, its VMs selected by o. With --json and a pattern or
 * --top, "vms_not_shown" says how many VMs were left out. */
static int cmd_status(const char *sock, bool json, const struct vmlist_opts *o)
{
    json_object *data = NULL;
    struct vmlist_counts c;
    int r = call(sock, PROTO_CMD_STATUS, NULL, &data);

    if (r == EXIT_OK)
        r = select_vms(data, o, &c);
    if (r != EXIT_OK) {
        json_object_put(data);
        return r;
    }
    if (json) {
        if (o->n_patterns || o->top)
            json_object_object_add(data, "vms_not_shown", json_object_new_uint64(c.total - c.shown));
        printf("%s\n", json_object_to_json_string_ext(data, JSON_C_TO_STRING_PRETTY));
    } else {
        print_status(data, o, &c);
    }
    json_object_put(data);
    return EXIT_OK;
}

static int cmd_reload(const char *sock, bool json)
{
    json_object *data = NULL;
    int r = call(sock, PROTO_CMD_RELOAD, NULL, &data);

    if (r != EXIT_OK)
        return r;
    if (json)
        printf("%s\n", json_object_to_json_string_ext(data, JSON_C_TO_STRING_PRETTY));
    else
        printf("reloaded\n");
    json_object_put(data);
    return EXIT_OK;
}

static bool is_json_flag(const char *arg)
{
    return strcmp(arg, "-j") == 0 || strcmp(arg, "--json") == 0;
}

/* --sort KEY and --top N, wherever they come: 0 or EXIT_USAGE (said). */
static int view_option(struct vmlist_opts *o, const char *opt, const char *arg)
{
    uint64_t n;

    if (!arg) {
        fprintf(stderr, "balloonctl: %s needs a value\n", opt);
        return EXIT_USAGE;
    }
    if (strcmp(opt, "--sort") == 0 && vmlist_sort_parse(arg, &o->sort) < 0) {
        fprintf(stderr, "balloonctl: --sort %s: not a sort key (" VMLIST_SORT_KEYS ")\n", arg);
        return EXIT_USAGE;
    }
    if (strcmp(opt, "--top") == 0) {
        if (parse_u64(arg, &n) < 0 || n == 0 || n > SIZE_MAX) {
            fprintf(stderr, "balloonctl: --top %s: not a number of VMs (1 or more)\n", arg);
            return EXIT_USAGE;
        }
        o->top = (size_t)n;
    }
    return 0;
}

/* When argv[i] is --sort or --top ("--sort KEY" or "--sort=KEY"), takes
 * it: the number of words taken (0: not one of them), or -1 on a usage
 * error (said). */
static int take_view_option(struct vmlist_opts *o, int argc, char **argv, int i)
{
    static const char *const names[] = {"--sort", "--top"};

    for (size_t k = 0; k < ARRAY_SIZE(names); k++) {
        size_t len = strlen(names[k]);
        if (strncmp(argv[i], names[k], len) != 0)
            continue;
        if (argv[i][len] == '=')
            return view_option(o, names[k], argv[i] + len + 1) ? -1 : 1;
        if (argv[i][len] == '\0')
            return view_option(o, names[k], i + 1 < argc ? argv[i + 1] : NULL) ? -1 : 2;
    }
    return 0;
}

/* The command and its arguments, argv[first..argc): options may also
 * follow the command ("events -f", "status --json"). */
static int run_command(const char *sock, bool json, bool follow, struct vmlist_opts *view, int argc,
                       char **argv, int first)
{
    const char *cmd = argv[first];
    bool viewing = strcmp(cmd, PROTO_CMD_STATUS) == 0 || strcmp(cmd, "top") == 0;
    int nargs = 0, taken;

    /* -j/--json is taken out in place; the vm verbs take the rest. */
    for (int i = first + 1; i < argc; i++) {
        if (is_json_flag(argv[i]))
            json = true;
        else if (viewing && (taken = take_view_option(view, argc, argv, i)) != 0) {
            if (taken < 0)
                return EXIT_USAGE;
            i += taken - 1;
        } else if (viewing && argv[i][0] == '-') {
            fprintf(stderr, "balloonctl: %s: unknown option \"%s\" (see balloonctl --help)\n", cmd, argv[i]);
            return EXIT_USAGE;
        }
        else if (strcmp(cmd, PROTO_CMD_EVENTS) == 0 && (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--follow") == 0))
            follow = true;
        else
            argv[first + 1 + nargs++] = argv[i];
    }
    if (strcmp(cmd, "vm") == 0)
        return cmd_vm(sock, json, nargs, argv + first + 1);
    if (strcmp(cmd, PROTO_CMD_STATUS) != 0 && strcmp(cmd, PROTO_CMD_RELOAD) != 0 && strcmp(cmd, "top") != 0 &&
        strcmp(cmd, PROTO_CMD_EVENTS) != 0) {
        fprintf(stderr, "balloonctl: unknown command \"%s\" (try: status, top, vm, events, reload)\n", cmd);
        return EXIT_USAGE;
    }
    if (!viewing && (view->sort != VMLIST_SORT_NONE || view->top)) {
        fprintf(stderr, "balloonctl: --sort and --top go with status and top\n");
        return EXIT_USAGE;
    }
    if (nargs > 0 && !viewing) {
        fprintf(stderr, "balloonctl: %s takes no argument\n", cmd);
        return EXIT_USAGE;
    }
    view->patterns = (const char *const *)argv + first + 1;
    view->n_patterns = (size_t)nargs;
    if (strcmp(cmd, "top") == 0)
        return cmd_top(sock, view);
    if (strcmp(cmd, PROTO_CMD_EVENTS) == 0)
        return cmd_events(sock, json, follow);
    if (strcmp(cmd, PROTO_CMD_STATUS) == 0)
        return cmd_status(sock, json, view);
    return cmd_reload(sock, json);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"follow", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {"sort", required_argument, NULL, 'S'},
        {"top", required_argument, NULL, 'T'},
        {0},
    };
    struct vmlist_opts view = {0};
    const char *sock = PROTO_SOCKET_DEFAULT;
    bool json = false, follow = false;
    int c;

    while ((c = getopt_long(argc, argv, "+s:jfh", opts, NULL)) != -1) {
        switch (c) {
        case 's': sock = optarg; break;
        case 'j': json = true; break;
        case 'f': follow = true; break;
        case 'h': usage(stdout); return EXIT_OK;
        case 'S':
            if (view_option(&view, "--sort", optarg))
                return EXIT_USAGE;
            break;
        case 'T':
            if (view_option(&view, "--top", optarg))
                return EXIT_USAGE;
            break;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "balloonctl: no command given\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    return run_command(sock, json, follow, &view, argc, argv, optind);
}
