/* util.h: logging, human sizes, clocks and small file helpers shared by
 * balloond and balloonctl. */
#pragma once
#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <syslog.h>

#define KIB 1024ULL
#define MIB (1024ULL * 1024ULL)
#define GIB (1024ULL * 1024ULL * 1024ULL)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static inline uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* v clamped to [lo, hi]; when lo > hi, hi wins (a max below a min). */
static inline uint64_t clamp_u64(uint64_t v, uint64_t lo, uint64_t hi)
{
    if (lo > hi)
        lo = hi;
    return v < lo ? lo : v > hi ? hi : v;
}

/* Log to stderr with a level prefix, or to the journal when log_setup()
 * was asked to (and the journal is reachable). level is a syslog LOG_*. */
void log_setup(int max_level, bool use_journal);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* "512M", "4G", "1.5G", "100K", "4096" (bytes) -> bytes. Suffixes are
 * binary (K=1024) and case-insensitive; an optional trailing "B"/"iB" is
 * accepted ("512MiB", "512MB"). Returns 0 or -EINVAL / -ERANGE. */
int size_parse(const char *s, uint64_t *out_bytes);
/* Like size_parse, but also "20%": *out_pct gets 20 and *is_pct true. */
int size_or_pct_parse(const char *s, uint64_t *out_bytes, unsigned *out_pct, bool *out_is_pct);
/* "1s", "500ms", "2m", "10" (seconds) -> milliseconds. */
int duration_parse(const char *s, uint64_t *out_ms);
/* Repeats of one kind of message (a VM's resets, sockets coming and
 * going, failed connections): at most burst per interval_ms, the rest
 * counted and told with the next one that passes. Zero-initialise, then
 * set interval_ms and burst (RATELIMIT_INIT). */
struct ratelimit {
    uint64_t interval_ms;
    unsigned burst;
    uint64_t begin_ms;     /* of the current interval */
    unsigned n;            /* passed in it */
    uint64_t suppressed;   /* not logged since the last one that passed */
};
/* A RESET storm logged 813,800 lines in minutes; 10 per 10 s still shows
 * every real reboot. */
#define RATELIMIT_INIT {.interval_ms = 10000, .burst = 10}
/* true when a message may go out now; then *suppressed (if not NULL) gets
 * the count of those held back since the last one, and it is reset. */
bool ratelimit_pass(struct ratelimit *rl, uint64_t now_ms, uint64_t *suppressed);
/* log_msg() through rl; a message that passes after some were held back
 * ends in "(N similar messages suppressed)". */
void log_limited(struct ratelimit *rl, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Human size, e.g. "512M", "1.5G", "0". Returns buf. */
#define SIZE_FMT_MAX 16
const char *size_format(uint64_t bytes, char buf[SIZE_FMT_MAX]);

uint64_t now_ms(void);      /* CLOCK_MONOTONIC */
uint64_t wall_now_s(void);  /* CLOCK_REALTIME, seconds */

/* Read a whole small file into buf (NUL-terminated). Returns the length
 * or -errno; -EFBIG when it does not fit. */
int read_file(const char *path, char *buf, size_t size);
/* The same in one read(2), for a /proc file the kernel writes whole in
 * one read (a one-line seq_file such as /proc/PID/statm): three system
 * calls instead of four. -EFBIG when the read filled buf. */
int read_file_once(const char *path, char *buf, size_t size);
/* Read a whole regular file of at most max_bytes into a malloc'ed,
 * NUL-terminated *out (length in *len_out). Never blocks on a FIFO or a
 * device: -EINVAL when path is not a regular file, -EFBIG when larger
 * than max_bytes, else -errno. */
int read_regular_file(const char *path, size_t max_bytes, char **out, size_t *len_out);
/* Write a string to a file (sysfs knobs). Returns 0 or -errno. */
int write_file(const char *path, const char *s);
/* Write atomically: path.tmp, fsync, rename. Returns 0 or -errno. */
int write_file_atomic(const char *path, const char *data, size_t len);

/* "ADDR:PORT" with a numeric IPv4 or bracketed IPv6 address ("127.0.0.1:9781",
 * "[::1]:9781"), the config's metrics listen address: 0 or -EINVAL. Fills a
 * struct sockaddr_storage (and its length) when the pointers are not NULL. */
int listen_parse(const char *listen, void *sockaddr_storage_out, unsigned *len_out);

/* bufp: the address of a pointer to an array of *cap elements of
 * elem_size bytes (any object pointer type: it is read and written with
 * memcpy). Makes the array hold at least need elements, doubling from
 * first (or *cap) until it does. 0, or -ENOMEM with the pointer and *cap
 * unchanged. */
int grow_reserve(void *bufp, size_t *cap, size_t need, size_t elem_size, size_t first);

/* strtoull on a whole token, with errors: 0 or -EINVAL/-ERANGE. */
int parse_u64(const char *s, uint64_t *out);

/* Whether fd, just opened, leaves at least reserve descriptors free below
 * RLIMIT_NOFILE: descriptors are handed out lowest first, so all below fd
 * are in use. Callers that take descriptors on behalf of others close fd
 * and refuse when false. Two tiers: VMs stop UTIL_FD_RESERVE_VMS short of
 * the limit, control clients UTIL_FD_RESERVE_CLIENTS short, so that with
 * every VM slot taken balloonctl still answers (up to 16 clients at once),
 * and host sampling (3 files at a time), the state file (2), /metrics
 * and the listeners keep the last 16. */
#define UTIL_FD_RESERVE_VMS 32
#define UTIL_FD_RESERVE_CLIENTS 16
bool fd_headroom_ok(int fd, int reserve);
/* Raises the soft RLIMIT_NOFILE to the hard limit (balloond never uses
 * select(), so descriptors above 1024 are fine). Writes the soft limit
 * before and after; 0 or -errno (the limits then untouched). */
int fd_limit_raise(uint64_t *was_out, uint64_t *now_out);

/* mkdir -p PATH, the last component with mode (the others 0755). 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);
/* mkdir -p of FILE's directory. 0 or -errno. */
int mkdir_parent(const char *file);
