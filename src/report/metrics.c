/* metrics.c: Prometheus /metrics (see metrics.h). */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "protocol.h"
#include "util.h"

/* A scrape takes about 1 ms and Prometheus holds one connection per
 * target. The limits bound the descriptors a local user can make us
 * hold; the per-address limit leaves room for a scraper from elsewhere
 * when the endpoint listens beyond loopback; the idle timeout frees a
 * held slot in seconds (Prometheus' default scrape timeout is 10 s and
 * it sends its request at once). */
#define METRICS_CONNS_MAX 64u
#define METRICS_CONNS_PER_IP_MAX 32u
#define METRICS_IDLE_TIMEOUT_S 3u

struct metrics {
    sd_event *ev;
    struct MHD_Daemon *mhd;
    sd_event_source *io, *timer;
    metrics_snapshot_fn fn;
    void *userdata;
};

/* ---- rendering ------------------------------------------------------------ */

struct buf {
    char *s;
    size_t len, cap;
};

static void bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p)
            return;
        b->s = p;
        b->cap = cap;
    }
}

static bool num(json_object *o, const char *key, double *v)
{
    json_object *x;

    if (!json_object_object_get_ex(o, key, &x) || !x ||
        !(json_object_is_type(x, json_type_int) || json_object_is_type(x, json_type_double)))
        return false;
    *v = json_object_is_type(x, json_type_int) ? (double)json_object_get_uint64(x)
                                                : json_object_get_double(x);
    if (json_object_is_type(x, json_type_int) && json_object_get_int64(x) < 0)
        *v = (double)json_object_get_int64(x);
    return true;
}

static void header(struct buf *b, const char *name, const char *type, const char *help)
{
    bprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: the VM names are ours (printable, no quote or
 * backslash: see mgr.c), but escape anyway. */
static void label_value(struct buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            bprintf(b, "\\%c", *v);
        else if (*v == '\n')
            bprintf(b, "\\n");
        else
            bprintf(b, "%c", *v);
    }
}

static const struct {
    const char *key, *name, *help;
    double scale;
} host_gauges[] = {
    {PROTO_KEY_BUDGET_BYTES, "balloond_host_budget_bytes", "Memory the VMs may use in all.", 1},
    {PROTO_KEY_RESERVE_BYTES, "balloond_host_reserve_bytes", "Part of the budget kept free for the host.", 1},
    {PROTO_KEY_USED_BYTES, "balloond_host_used_bytes", "Memory used of the budget.", 1},
    {PROTO_KEY_HEADROOM_BYTES, "balloond_host_headroom_bytes", "Budget minus reserve minus used; negative when into the reserve.", 1},
    {PROTO_KEY_PSI_SOME_AVG10, "balloond_host_pressure_some_ratio", "PSI memory some avg10 of the budget (cgroup v2) or host.", 0.01},
    {PROTO_KEY_PSI_FULL_AVG10, "balloond_host_pressure_full_ratio", "PSI memory full avg10 of the budget (cgroup v2) or host.", 0.01},
    {PROTO_KEY_MEM_TOTAL_BYTES, "balloond_host_memory_total_bytes", "The host's MemTotal.", 1},
    {PROTO_KEY_MEM_AVAILABLE_BYTES, "balloond_host_memory_available_bytes", "The host's MemAvailable.", 1},
};

/* The host's swap traffic (/proc/vmstat pswpin, pswpout), so that an alert
 * can tell a host that swaps while its guests hold idle memory. */
static const struct {
    const char *key, *name, *help;
} host_counters[] = {
    {PROTO_KEY_SWAP_IN_PAGES_TOTAL, "balloond_host_swap_in_pages_total", "Pages the host swapped in (/proc/vmstat pswpin)."},
    {PROTO_KEY_SWAP_OUT_PAGES_TOTAL, "balloond_host_swap_out_pages_total", "Pages the host swapped out (/proc/vmstat pswpout)."},
};

static const struct {
    const char *key, *name, *help;
} vm_gauges[] = {
    {PROTO_KEY_SIZE_BYTES, "balloond_vm_size_bytes", "The VM's configured memory."},
    {PROTO_KEY_MIN_BYTES, "balloond_vm_min_bytes", "Smallest logical size balloond gives the VM."},
    {PROTO_KEY_MAX_BYTES, "balloond_vm_max_bytes", "Largest logical size balloond gives the VM."},
    {PROTO_KEY_ACTUAL_BYTES, "balloond_vm_actual_bytes", "The guest's logical size now (RAM minus balloon)."},
    {PROTO_KEY_TARGET_BYTES, "balloond_vm_target_bytes", "The logical size balloond asks for."},
    {PROTO_KEY_USED_BYTES, "balloond_vm_used_bytes", "Guest memory in use (total minus available)."},
    {PROTO_KEY_AVAILABLE_BYTES, "balloond_vm_available_bytes", "Guest memory available."},
    {PROTO_KEY_NEED_BYTES, "balloond_vm_need_bytes", "What balloond estimates the guest needs."},
    {PROTO_KEY_RSS_BYTES, "balloond_vm_rss_bytes", "Resident memory of the VM's QEMU process."},
    {PROTO_KEY_STALL_HOLD_S, "balloond_vm_stall_hold_seconds", "Seconds left of a stalled VM's hold (no inflation)."},
    {PROTO_KEY_RECLAIMED_BYTES, "balloond_vm_reclaimed_bytes", "Memory the balloon and virtio-mem took back (size minus actual)."},
    {PROTO_KEY_GUEST_RETURNED_BYTES, "balloond_vm_guest_returned_bytes", "With free page reporting: logical size not resident in QEMU (actual minus RSS), given back by the guest itself; not counted as reclaimed."},
    {PROTO_KEY_VMEM_PLUGGED_BYTES, "balloond_vm_vmem_plugged_bytes", "Memory plugged in the VM's virtio-mem device."},
    {PROTO_KEY_VMEM_REQUESTED_BYTES, "balloond_vm_vmem_requested_bytes", "The virtio-mem requested-size balloond asked for."},
};

static void render_vm_gauge(struct buf *b, json_object *vms, size_t g)
{
    size_t n = json_object_array_length(vms);

    header(b, vm_gauges[g].name, "gauge", vm_gauges[g].help);
    for (size_t i = 0; i < n; i++) {
        json_object *vm = json_object_array_get_idx(vms, i), *name;
        double v;
        if (!num(vm, vm_gauges[g].key, &v) || !json_object_object_get_ex(vm, PROTO_KEY_NAME, &name))
            continue;
        bprintf(b, "%s{vm=\"", vm_gauges[g].name);
        label_value(b, json_object_get_string(name));
        bprintf(b, "\"} %.0f\n", v);
    }
}

static void render_vm_flags(struct buf *b, json_object *vms)
{
    static const struct {
        const char *name, *help;
    } flags[] = {
        {"balloond_vm_managed", "1 when balloond manages the VM (connected, balloon found)."},
        {"balloond_vm_pressure", "1 when the guest shows memory pressure."},
        {"balloond_vm_stalled", "1 when the guest did not reach its last target."},
        {"balloond_vm_free_page_reporting", "1 when the VM's balloon has free page reporting on."},
    };
    size_t n = json_object_array_length(vms);

    for (size_t f = 0; f < ARRAY_SIZE(flags); f++) {
        header(b, flags[f].name, "gauge", flags[f].help);
        for (size_t i = 0; i < n; i++) {
            json_object *vm = json_object_array_get_idx(vms, i), *name, *x;
            int v = 0;
            json_object_object_get_ex(vm, PROTO_KEY_NAME, &name);
            if (f == 0)
                v = json_object_object_get_ex(vm, PROTO_KEY_STATE, &x) && strcmp(json_object_get_string(x), PROTO_VM_STATE_MANAGED) == 0;
            else if (f == 1)
                v = json_object_object_get_ex(vm, PROTO_KEY_PRESSURE, &x) && x != NULL;
            else
                v = json_object_object_get_ex(vm, f == 2 ? PROTO_KEY_STALLED : PROTO_KEY_FREE_PAGE_REPORTING, &x) &&
                    json_object_get_boolean(x);
            bprintf(b, "%s{vm=\"", flags[f].name);
            label_value(b, json_object_get_string(name));
            bprintf(b, "\"} %d\n", v);
        }
    }
}

static void render_counters(struct buf *b, json_object *status)
{
    json_object *dec, *vms;

    header(b, "balloond_decisions_total", "counter", "Balloon target changes, by reason.");
    if (json_object_object_get_ex(status, PROTO_KEY_DECISIONS_TOTAL, &dec)) {
        json_object_object_foreach(dec, reason, count)
        {
            bprintf(b, "balloond_decisions_total{reason=\"");
            label_value(b, reason);
            bprintf(b, "\"} %" PRIu64 "\n", json_object_get_uint64(count));
        }
    }
    header(b, "balloond_vms", "gauge", "VMs whose QMP socket balloond sees.");
    bprintf(b, "balloond_vms %zu\n",
            json_object_object_get_ex(status, PROTO_KEY_VMS, &vms) ? json_object_array_length(vms) : (size_t)0);
}

char *metrics_render(json_object *status)
{
    static const char *const states[] = {"plenty", "tight", "critical"};
    struct buf b = {0};
    json_object *host = NULL, *vms = NULL, *st = NULL;
    double v;

    json_object_object_get_ex(status, PROTO_KEY_HOST, &host);
    json_object_object_get_ex(status, PROTO_KEY_VMS, &vms);
    for (size_t i = 0; host && i < ARRAY_SIZE(host_gauges); i++) {
        if (!num(host, host_gauges[i].key, &v))
            continue;
        header(&b, host_gauges[i].name, "gauge", host_gauges[i].help);
        bprintf(&b, "%s %.*f\n", host_gauges[i].name, host_gauges[i].scale == 1 ? 0 : 4,
                v * host_gauges[i].scale);
    }
    header(&b, "balloond_host_state", "gauge", "1 for the host's current state.");
    if (host)
        json_object_object_get_ex(host, PROTO_KEY_STATE, &st);
    for (size_t i = 0; i < ARRAY_SIZE(states); i++)
        bprintf(&b, "balloond_host_state{state=\"%s\"} %d\n", states[i],
                st && strcmp(json_object_get_string(st), states[i]) == 0);
    for (size_t i = 0; host && i < ARRAY_SIZE(host_counters); i++) {
        if (!num(host, host_counters[i].key, &v))
            continue;
        header(&b, host_counters[i].name, "counter", host_counters[i].help);
        bprintf(&b, "%s %.0f\n", host_counters[i].name, v);
    }
    if (host && num(host, PROTO_KEY_CGROUP_OOM_KILLS_TOTAL, &v)) {
        header(&b, "balloond_host_cgroup_oom_kills_total", "counter",
               "OOM kills in the budget cgroup (a QEMU killed).");
        bprintf(&b, "balloond_host_cgroup_oom_kills_total %.0f\n", v);
    }
    if (vms && json_object_is_type(vms, json_type_array)) {
        for (size_t g = 0; g < ARRAY_SIZE(vm_gauges); g++)
            render_vm_gauge(&b, vms, g);
        render_vm_flags(&b, vms);
    }
    render_counters(&b, status);
    if (!b.s)
        b.s = strdup("");
    return b.s;
}

/* ---- serving ------------------------------------------------------------ */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct metrics *m = cls;
    struct MHD_Response *resp;
    enum MHD_Result r;
    unsigned code = MHD_HTTP_OK;
    char *text;

    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        text = strdup("only GET\n");
        code = MHD_HTTP_METHOD_NOT_ALLOWED;
    } else if (strcmp(url, "/metrics") != 0) {
        text = strdup("balloond: metrics are at /metrics\n");
        code = MHD_HTTP_NOT_FOUND;
    } else {
        json_object *status = m->fn(m->userdata);
        text = metrics_render(status);
        json_object_put(status);
    }
    if (!text)
        return MHD_NO;
    resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type",
                            code == MHD_HTTP_OK ? "text/plain; version=0.0.4; charset=utf-8"
                                                : "text/plain; charset=utf-8");
    r = MHD_queue_response(c, code, resp);
    MHD_destroy_response(resp);
    return r;
}

static void metrics_arm(struct metrics *m)
{
    MHD_UNSIGNED_LONG_LONG timeout_ms;

    if (MHD_get_timeout(m->mhd, &timeout_ms) == MHD_YES) {
        sd_event_source_set_time(m->timer, (now_ms() + timeout_ms) * 1000);
        sd_event_source_set_enabled(m->timer, SD_EVENT_ONESHOT);
    } else {
        sd_event_source_set_enabled(m->timer, SD_EVENT_OFF);
    }
}

static unsigned metrics_conns(struct metrics *m)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

    return i ? i->num_connections : 0;
}

static int metrics_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    struct metrics *m = userdata;
    unsigned before = metrics_conns(m);

    MHD_run(m->mhd);
    /* At the connection limit MHD takes the listening socket out of its
     * epoll set, and puts it back only at the start of a later MHD_run.
     * When this run closed connections nothing may wake us for that run
     * (no fd ready, no timeout): 16 idle clients, once timed out, left
     * every later scrape unanswered until a restart. Run once more. */
    if (metrics_conns(m) < before)
        MHD_run(m->mhd);
    metrics_arm(m);
    return 0;
}

static int metrics_on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
    return metrics_on_io(NULL, -1, 0, userdata);
}

int metrics_new(sd_event *ev, const char *listen, metrics_snapshot_fn fn, void *userdata,
                struct metrics **out)
{
    struct sockaddr_storage ss;
    const union MHD_DaemonInfo *info;
    struct metrics *m;
    int r;

    if (listen_parse(listen, &ss, NULL) < 0)
        return -EINVAL;
    m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->ev = sd_event_ref(ev);
    m->fn = fn;
    m->userdata = userdata;
    errno = 0;
    m->mhd = MHD_start_daemon(MHD_USE_EPOLL | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), 0, NULL,
                              NULL, on_request, m, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                              MHD_OPTION_CONNECTION_LIMIT, METRICS_CONNS_MAX,
                              MHD_OPTION_PER_IP_CONNECTION_LIMIT, METRICS_CONNS_PER_IP_MAX,
                              MHD_OPTION_CONNECTION_TIMEOUT, METRICS_IDLE_TIMEOUT_S,
                              MHD_OPTION_END);
    if (!m->mhd) {
        r = errno ? -errno : -EADDRINUSE;
        metrics_free(m);
        return r;
    }
    info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    r = info ? sd_event_add_io(ev, &m->io, info->epoll_fd, EPOLLIN, metrics_on_io, m) : -EIO;
    if (r == 0)
        r = sd_event_add_time(ev, &m->timer, CLOCK_MONOTONIC, UINT64_MAX, 1000, metrics_on_timer, m);
    if (r < 0) {
        metrics_free(m);
        return r;
    }
    metrics_arm(m);
    *out = m;
    return 0;
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    sd_event_source_disable_unref(m->io);
    sd_event_source_disable_unref(m->timer);
    if (m->mhd)
        MHD_stop_daemon(m->mhd);
    sd_event_unref(m->ev);
    free(m);
}
