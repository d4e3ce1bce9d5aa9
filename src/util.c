/* util.c: logging, human sizes, clocks, small file helpers. */
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

static int log_max_level = LOG_INFO;
static bool log_journal;

void log_setup(int max_level, bool use_journal)
{
    log_max_level = max_level;
    log_journal = use_journal;
}

void log_msg(int level, const char *fmt, ...)
{
    static const char *const names[] = {
        [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
        [LOG_ERR] = "error",   [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
    };
    va_list ap;

    if (level > log_max_level)
        return;
    va_start(ap, fmt);
    if (log_journal) {
        sd_journal_printv(level, fmt, ap);
    } else {
        char line[2048];
        vsnprintf(line, sizeof(line), fmt, ap);
        fprintf(stderr, "balloond[%s]: %s\n", names[level & 7], line);
    }
    va_end(ap);
}

bool ratelimit_pass(struct ratelimit *rl, uint64_t now, uint64_t *suppressed)
{
    if (rl->begin_ms == 0 || now - rl->begin_ms >= rl->interval_ms) {
        rl->begin_ms = now ? now : 1;
        rl->n = 0;
    }
    if (rl->n >= rl->burst) {
        rl->suppressed++;
        return false;
    }
    rl->n++;
    if (suppressed)
        *suppressed = rl->suppressed;
    rl->suppressed = 0;
    return true;
}

void log_limited(struct ratelimit *rl, int level, const char *fmt, ...)
{
    char line[2048];
    uint64_t held;
    va_list ap;

    if (level > log_max_level || !ratelimit_pass(rl, now_ms(), &held))
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (held)
        log_msg(level, "%s (%llu similar messages suppressed)", line, (unsigned long long)held);
    else
        log_msg(level, "%s", line);
}

static int suffix_shift(const char *s, unsigned *shift)
{
    /* Accept "", "K", "KB", "KiB" (and M, G, T), case-insensitive. */
    static const char units[] = "BKMGT";
    const char *u;

    if (*s == '\0') {
        *shift = 0;
        return 0;
    }
    u = strchr(units, toupper((unsigned char)*s));
    if (!u)
        return -EINVAL;
    *shift = (unsigned)(u - units) * 10;
    s++;
    if (*shift == 0)
        return *s == '\0' ? 0 : -EINVAL;
    if (*s == 'i' || *s == 'I')
        s++;
    if (*s == 'b' || *s == 'B')
        s++;
    return *s == '\0' ? 0 : -EINVAL;
}

/* A non-negative decimal number at the start of s ("1.5" of "1.5G"); *end
 * is what follows it. Signs, "inf", "nan" and hex are refused. */
static int leading_number(const char *s, double *v, char **end)
{
    if (!s || !isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    *v = strtod(s, end);
    if (errno || *end == s || (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))
        return -EINVAL;
    return 0;
}

int size_parse(const char *s, uint64_t *out_bytes)
{
    char *end;
    double v;
    unsigned shift;
    int r;

    if (leading_number(s, &v, &end) < 0)
        return -EINVAL;
    r = suffix_shift(end, &shift);
    if (r < 0)
        return r;
    v = ldexp(v, (int)shift);
    if (!(v < 18446744073709551615.0))
        return -ERANGE;
    *out_bytes = (uint64_t)v;
    return 0;
}

int size_or_pct_parse(const char *s, uint64_t *out_bytes, unsigned *out_pct, bool *out_is_pct)
{
    size_t len = s ? strlen(s) : 0;
    int r;

    if (len > 1 && s[len - 1] == '%') {
        char digits[16];
        uint64_t pct;
        if (len - 1 >= sizeof(digits))
            return -ERANGE;
        memcpy(digits, s, len - 1);
        digits[len - 1] = '\0';
        if (parse_u64(digits, &pct) < 0)
            return -EINVAL;
        if (pct > 100)
            return -ERANGE;
        *out_pct = (unsigned)pct;
        *out_is_pct = true;
        return 0;
    }
    r = size_parse(s, out_bytes);
    if (r < 0)
        return r;
    *out_is_pct = false;
    return 0;
}

int duration_parse(const char *s, uint64_t *out_ms)
{
    char *end;
    double v, scale;

    if (leading_number(s, &v, &end) < 0)
        return -EINVAL;
    if (*end == '\0' || strcmp(end, "s") == 0)
        scale = 1000;
    else if (strcmp(end, "ms") == 0)
        scale = 1;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        scale = 60000;
    else if (strcmp(end, "h") == 0)
        scale = 3600000;
    else
        return -EINVAL;
    v *= scale;
    if (!(v < 1e15))
        return -ERANGE;
    *out_ms = (uint64_t)llround(v);
    return 0;
}

const char *size_format(uint64_t bytes, char buf[SIZE_FMT_MAX])
{
    static const char units[] = "BKMGT";
    double v = (double)bytes;
    unsigned i = 0;

    while (v >= 1024 && i < sizeof(units) - 2) {
        v /= 1024;
        i++;
    }
    if (i == 0)
        snprintf(buf, SIZE_FMT_MAX, "%llu", (unsigned long long)bytes);
    else if (v >= 100 || v == (double)(uint64_t)v)
        snprintf(buf, SIZE_FMT_MAX, "%.0f%c", v, units[i]);
    else
        snprintf(buf, SIZE_FMT_MAX, "%.1f%c", v, units[i]);
    return buf;
}

uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t wall_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec;
}

/* Reads fd to its end into buf (NUL-terminated); -EFBIG when it does
 * not fit. Returns the length or -errno. */
static int read_fd(int fd, char *buf, size_t size)
{
    size_t len = 0;

    for (;;) {
        ssize_t n;
        if (len + 1 >= size) {
            char probe;
            n = read(fd, &probe, 1);
            if (n != 0)
                return -EFBIG;
            break;
        }
        n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return (int)len;
}

int read_file(const char *path, char *buf, size_t size)
{
    int fd, r;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    r = read_fd(fd, buf, size);
    close(fd);
    return r;
}

int read_file_once(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -errno;
    do
        n = read(fd, buf, size);
    while (n < 0 && errno == EINTR);
    n = n < 0 ? -errno : (size_t)n >= size ? -EFBIG : n;
    close(fd);
    if (n >= 0)
        buf[n] = '\0';
    return (int)n;
}

/* Reads fd to its end into a malloc'ed, NUL-terminated *out: a buffer of
 * hint bytes first (the size fstat saw), grown only when the file turns
 * out longer (it grew meanwhile, or fstat says 0 as in /proc), never
 * beyond max bytes: -EFBIG past that. Returns the length or -errno. */
static int read_fd_alloc(int fd, size_t hint, size_t max, char **out)
{
    size_t cap = min_u64(hint, max) + 1, len = 0;
    char *buf = malloc(cap), *grown;
    ssize_t n;
    int r;

    if (!buf)
        return -ENOMEM;
    for (;;) {
        if (len + 1 == cap) {
            char c;
            n = read(fd, &c, 1);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                r = n < 0 ? -errno : 0;
                break;
            }
            if (len == max) {
                r = -EFBIG;
                break;
            }
            cap = min_u64(max, len * 2 > 4096 ? len * 2 : 4096) + 1;
            if (!(grown = realloc(buf, cap))) {
                r = -ENOMEM;
                break;
            }
            buf = grown;
            buf[len++] = c;
            continue;
        }
        n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = n < 0 ? -errno : 0;
            break;
        }
        len += (size_t)n;
    }
    if (r < 0) {
        free(buf);
        return r;
    }
    buf[len] = '\0';
    *out = buf;
    return (int)len;
}

int read_regular_file(const char *path, size_t max_bytes, char **out, size_t *len_out)
{
    struct stat st;
    char *buf = NULL;
    int fd, r;

    /* O_NONBLOCK: opening a FIFO without a writer would wait for one. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0)
        r = -errno;
    else if (!S_ISREG(st.st_mode))
        r = -EINVAL;
    else if ((uint64_t)st.st_size > max_bytes)
        r = -EFBIG;
    else /* sized by the file, not by the cap: a state file of 2 KiB
          * allocates 2 KiB, not 1 MiB (a file that grows meanwhile is
          * still capped) */
        r = read_fd_alloc(fd, (size_t)st.st_size, max_bytes, &buf);
    close(fd);
    if (r < 0)
        return r;
    *out = buf;
    *len_out = (size_t)r;
    return 0;
}

bool fd_headroom_ok(int fd, int reserve)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return true;
    return (rlim_t)fd + (rlim_t)reserve < rl.rlim_cur;
}

int fd_limit_raise(uint64_t *was_out, uint64_t *now_out)
{
    struct rlimit rl;
    rlim_t was;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -errno;
    was = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (was != rl.rlim_max && setrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -errno;
    *was_out = was;
    *now_out = rl.rlim_cur;
    return 0;
}

int write_file(const char *path, const char *s)
{
    size_t len = strlen(s);
    ssize_t n;
    int fd, r = 0;

    /* O_TRUNC: sysfs ignores it; a fixture file needs it. */
    fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    n = write(fd, s, len);
    if (n < 0)
        r = -errno;
    else if ((size_t)n != len)
        r = -EIO;
    close(fd);
    return r;
}

int write_file_atomic(const char *path, const char *data, size_t len)
{
    char tmp[4096];
    size_t off = 0;
    int fd, r = 0;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
        return -ENAMETOOLONG;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            break;
        }
        off += (size_t)n;
    }
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0)
        unlink(tmp);
    return r;
}

int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!s || !isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    if (errno || *end != '\0')
        return -EINVAL;
    *out = v;
    return 0;
}

int listen_parse(const char *listen, void *out, unsigned *len_out)
{
    struct sockaddr_storage ss = {0};
    char host[64];
    const char *colon = strrchr(listen, ':');
    uint64_t port;
    size_t hlen;

    if (!colon || parse_u64(colon + 1, &port) < 0 || port == 0 || port > 65535)
        return -EINVAL;
    hlen = (size_t)(colon - listen);
    if (hlen == 0 || hlen >= sizeof(host))
        return -EINVAL;
    memcpy(host, listen, hlen);
    host[hlen] = '\0';
    if (host[0] == '[' && host[hlen - 1] == ']') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        host[hlen - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
            return -EINVAL;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (len_out)
            *len_out = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            return -EINVAL;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (len_out)
            *len_out = sizeof(*a);
    }
    if (out)
        memcpy(out, &ss, sizeof(ss));
    return 0;
}

int mkdir_p(const char *path, mode_t mode)
{
    char buf[4096];

    if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
        return -ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int mkdir_parent(const char *file)
{
    char dir[4096];
    char *slash;

    snprintf(dir, sizeof(dir), "%s", file);
    slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    return mkdir_p(dir, 0755);
}

int grow_reserve(void *bufp, size_t *cap, size_t need, size_t elem_size, size_t first)
{
    size_t n = *cap ? *cap : first;
    void *old, *p;

    if (need <= *cap)
        return 0;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return -ENOMEM;
        n *= 2;
    }
    memcpy(&old, bufp, sizeof(old));
    if (n > SIZE_MAX / elem_size || !(p = realloc(old, n * elem_size)))
        return -ENOMEM;
    memcpy(bufp, &p, sizeof(p));
    *cap = n;
    return 0;
}
