/*
 * memload — scripted memory demand for the balloond test guest.
 *
 * The test guest has no shell session, so a test describes what the guest
 * should do with its memory on the kernel command line:
 *
 *     memload=alloc:300M,hold:3s,free:all,idle
 *
 * Phases run in order, separated by commas:
 *
 *     alloc:SIZE        allocate and touch SIZE more anonymous memory, fast
 *     alloc:SIZE@RATE   the same at RATE per second (alloc:200M@20M = 20 MiB/s)
 *     hold:DURATION     keep everything, re-touching it every second
 *     free:SIZE         release SIZE of the held memory (newest first)
 *     free:all          release everything
 *     idle              hold forever (must be the last phase)
 *     loop              start over from the first phase (must be the last)
 *
 * SIZE and RATE take an optional binary suffix K, M or G (no suffix: bytes);
 * DURATION needs a unit: ms, s or m.
 *
 * Output, one line each, on stdout (the guest console):
 *
 *     memload: start
 *     memload: phase=NAME held_mib=N      at each phase start and every 2 s
 *     memload: alloc failed at held_mib=N
 *     memload: past_available held_mib=N avail_mib=M
 *                                         an alloc is about to touch more than
 *                                         the MemAvailable M its phase began
 *                                         with: the demand has just passed
 *                                         the guest's available memory (the
 *                                         moment rescue latency counts from)
 *     memload: bad spec "SPEC": REASON    then idle with nothing held
 *     memload: done                       the list ended without idle/loop
 *
 * The spec is read from /proc/cmdline; for trying memload on a host,
 * `memload SPEC` takes it from the first argument instead.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define KIB ((uint64_t)1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)

/* Memory is mapped in chunks of at most this size.  Small enough that freeing
 * returns memory in fine steps and that a status line is never more than one
 * chunk late; large enough that 1 GiB is only 256 mappings. */
#define CHUNK_BYTES (4 * MIB)

#define STATUS_INTERVAL_MS 2000
#define RETOUCH_INTERVAL_MS 1000
/* A rate-limited alloc hands out memory in slices this far apart. */
#define RATE_SLICE_MS 100

#define MAX_PHASES 64
#define MAX_SPEC 1024

enum phase_kind { PH_ALLOC, PH_HOLD, PH_FREE, PH_IDLE, PH_LOOP };

static const char *const phase_names[] = {
	[PH_ALLOC] = "alloc", [PH_HOLD] = "hold", [PH_FREE] = "free",
	[PH_IDLE] = "idle",   [PH_LOOP] = "loop",
};

struct phase {
	enum phase_kind kind;
	uint64_t bytes;        /* alloc, free; UINT64_MAX for free:all */
	uint64_t rate;         /* alloc: bytes per second, 0 = as fast as possible */
	int64_t duration_ms;   /* hold */
};

struct chunk {
	unsigned char *addr;
	size_t len;            /* bytes mapped and touched (whole pages) */
};

/* Everything memload holds, and the bookkeeping of its periodic work. */
static struct {
	struct chunk *chunks;
	size_t nchunks, cap;
	uint64_t held;         /* sum of chunks[].len */
	size_t page;
	uint64_t seed;         /* differs between boots, see touch_page() */
	uint64_t generation;   /* bumped by every re-touch pass */
	const char *phase;     /* name shown on status lines */
	int64_t next_status_ms;
	int64_t next_retouch_ms;
	uint64_t mark_held;    /* past_available when held would pass this; 0: none */
	uint64_t mark_avail;   /* MemAvailable at the alloc's start */
} st;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static uint64_t held_mib(void)
{
	return st.held / MIB;
}

static void print_status(void)
{
	printf("memload: phase=%s held_mib=%" PRIu64 "\n", st.phase, held_mib());
}

/* ---- parsing ------------------------------------------------------------ */

/* Parse a decimal number at *p, advancing *p.  Returns NULL, or why not:
 * `what` names the thing for the message. */
static const char *parse_number(const char **p, uint64_t *out, const char *what)
{
	static char why[64];
	const char *s = *p;
	uint64_t v = 0;

	if (*s < '0' || *s > '9') {
		snprintf(why, sizeof(why), "%s must start with a number", what);
		return why;
	}
	for (; *s >= '0' && *s <= '9'; s++) {
		uint64_t d = (uint64_t)(*s - '0');

		if (v > (UINT64_MAX - d) / 10) {
			snprintf(why, sizeof(why), "%s too large", what);
			return why;
		}
		v = v * 10 + d;
	}
	*p = s;
	*out = v;
	return NULL;
}

/* SIZE (or RATE, named by `what`): digits and an optional K/M/G suffix,
 * ending at `end`. */
static const char *parse_size(const char *s, const char *end, uint64_t *out, const char *what)
{
	static char buf[64];
	uint64_t v, mult = 1;
	const char *why = parse_number(&s, &v, what);

	if (why)
		return why;
	if (s < end) {
		switch (*s) {
		case 'K': case 'k': mult = KIB; break;
		case 'M': case 'm': mult = MIB; break;
		case 'G': case 'g': mult = GIB; break;
		default:
			snprintf(buf, sizeof(buf), "%s suffix must be K, M or G", what);
			return buf;
		}
		s++;
	}
	if (s != end) {
		snprintf(buf, sizeof(buf), "trailing characters after %s", what);
		return buf;
	}
	if (v == 0) {
		snprintf(buf, sizeof(buf), "%s must be greater than 0", what);
		return buf;
	}
	if (v > UINT64_MAX / mult) {
		snprintf(buf, sizeof(buf), "%s too large", what);
		return buf;
	}
	*out = v * mult;
	return NULL;
}

/* DURATION: digits and a mandatory unit ms, s or m. A bare number is
 * rejected rather than guessed at: "hold:30" could mean either. */
static const char *parse_duration(const char *s, const char *end, int64_t *out_ms)
{
	uint64_t v, mult;
	size_t unit_len;
	const char *why = parse_number(&s, &v, "duration");

	if (why)
		return why;
	unit_len = (size_t)(end - s);
	if (unit_len == 2 && strncmp(s, "ms", 2) == 0)
		mult = 1;
	else if (unit_len == 1 && *s == 's')
		mult = 1000;
	else if (unit_len == 1 && *s == 'm')
		mult = 60 * 1000;
	else
		return "duration needs a unit: ms, s or m";
	if (v > (uint64_t)INT64_MAX / 2 / mult)
		return "duration too large";
	*out_ms = (int64_t)(v * mult);
	return NULL;
}

/* Parse one phase [s, end).  Returns NULL or the reason it is malformed. */
static const char *parse_phase(const char *s, const char *end, struct phase *ph)
{
	const char *colon = memchr(s, ':', (size_t)(end - s));
	size_t name_len = (size_t)((colon ? colon : end) - s);
	const char *arg = colon ? colon + 1 : NULL;

	memset(ph, 0, sizeof(*ph));

#define NAME_IS(lit) (name_len == sizeof(lit) - 1 && strncmp(s, lit, name_len) == 0)
	if (NAME_IS("idle") || NAME_IS("loop")) {
		if (arg)
			return "idle and loop take no argument";
		ph->kind = NAME_IS("idle") ? PH_IDLE : PH_LOOP;
		return NULL;
	}
	if (NAME_IS("alloc")) {
		const char *at, *why;

		if (!arg || arg == end)
			return "alloc needs a size";
		ph->kind = PH_ALLOC;
		at = memchr(arg, '@', (size_t)(end - arg));
		why = parse_size(arg, at ? at : end, &ph->bytes, "size");
		if (!why && at)
			why = parse_size(at + 1, end, &ph->rate, "rate");
		return why;
	}
	if (NAME_IS("hold")) {
		if (!arg || arg == end)
			return "hold needs a duration";
		ph->kind = PH_HOLD;
		return parse_duration(arg, end, &ph->duration_ms);
	}
	if (NAME_IS("free")) {
		if (!arg || arg == end)
			return "free needs a size or \"all\"";
		ph->kind = PH_FREE;
		if (end - arg == 3 && strncmp(arg, "all", 3) == 0) {
			ph->bytes = UINT64_MAX;
			return NULL;
		}
		if (*arg < '0' || *arg > '9')
			return "free needs a size or \"all\"";
		return parse_size(arg, end, &ph->bytes, "size");
	}
#undef NAME_IS
	return "unknown phase (expected alloc, hold, free, idle or loop)";
}

/* Parse the whole spec into phases[]; returns NULL or the reason it is bad.
 * The reason is a static string; `why_buf` is used when it names a phase. */
static const char *parse_spec(const char *spec, struct phase *phases, size_t *nphases,
			      char *why_buf, size_t why_len)
{
	const char *s = spec;
	size_t n = 0;

	if (*spec == '\0')
		return "empty spec";
	for (;;) {
		const char *end = strchr(s, ',');
		const char *why;

		if (!end)
			end = s + strlen(s);
		if (end == s)
			return "empty phase";
		if (n == MAX_PHASES)
			return "too many phases";
		if (n > 0 && (phases[n - 1].kind == PH_IDLE || phases[n - 1].kind == PH_LOOP)) {
			snprintf(why_buf, why_len, "phase %zu \"%s\" must be the last phase", n,
				 phase_names[phases[n - 1].kind]);
			return why_buf;
		}
		why = parse_phase(s, end, &phases[n]);
		if (why) {
			snprintf(why_buf, why_len, "phase %zu \"%.*s\": %s", n + 1,
				 (int)(end - s), s, why);
			return why_buf;
		}
		n++;
		if (*end == '\0')
			break;
		s = end + 1;
	}
	if (phases[n - 1].kind == PH_LOOP) {
		bool waits = false;

		for (size_t i = 0; i + 1 < n; i++)
			waits |= phases[i].kind == PH_HOLD ||
				 (phases[i].kind == PH_ALLOC && phases[i].rate != 0);
		/* Without anything that takes time, a loop would spin on mmap and
		 * munmap and flood the console with phase lines. */
		if (!waits)
			return "loop needs a hold or a rate-limited alloc to repeat";
	}
	*nphases = n;
	return NULL;
}

/* Find memload=... on the kernel command line.  Kernel parameters are
 * separated by spaces; the spec itself never contains one. */
static const char *spec_from_cmdline(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cmdline", "r");
	char line[4096];
	char *tok, *save = NULL;

	if (!f)
		return NULL;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return NULL;
	}
	fclose(f);
	for (tok = strtok_r(line, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
		if (strncmp(tok, "memload=", 8) == 0) {
			snprintf(buf, len, "%s", tok + 8);
			return buf;
		}
	}
	return NULL;
}

/* ---- memory ------------------------------------------------------------- */

/* Write one word into a page.  The value mixes a per-boot seed, the page's
 * address and the pass number, so that no two pages are alike — within a
 * guest or across guests — and host KSM cannot merge them away behind the
 * test's back, and each re-touch really dirties the page.  The rest of the
 * page stays zero: touching one word is what makes the page resident, and a
 * full memset would cost far more under TCG for no extra realism. */
static void touch_page(unsigned char *p)
{
	uint64_t v = st.seed ^ ((uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ULL) ^ st.generation;

	*(volatile uint64_t *)(void *)p = v;
}

static void touch_range(unsigned char *addr, size_t len)
{
	for (size_t off = 0; off < len; off += st.page)
		touch_page(addr + off);
}

static void retouch_all(void)
{
	st.generation++;
	for (size_t i = 0; i < st.nchunks; i++)
		touch_range(st.chunks[i].addr, st.chunks[i].len);
}

/* Periodic work, called from every loop that takes time: the status line,
 * and (when `retouch`) the re-touch pass that keeps held memory in use. */
static void tick(bool retouch)
{
	int64_t now = now_ms();

	if (now >= st.next_status_ms) {
		print_status();
		st.next_status_ms = now + STATUS_INTERVAL_MS;
	}
	if (retouch && now >= st.next_retouch_ms) {
		retouch_all();
		st.next_retouch_ms = now_ms() + RETOUCH_INTERVAL_MS;
	}
}

/* Wait until `deadline_ms` (INT64_MAX: forever), doing the periodic work. */
static void wait_until(int64_t deadline_ms)
{
	for (;;) {
		int64_t now, wake;

		tick(true);
		now = now_ms();
		if (now >= deadline_ms)
			return;
		wake = deadline_ms;
		if (st.next_status_ms < wake)
			wake = st.next_status_ms;
		if (st.next_retouch_ms < wake)
			wake = st.next_retouch_ms;
		if (wake > now)
			sleep_ms(wake - now);
	}
}

/* Map and touch `bytes` more memory (rounded up to whole pages), in chunks.
 * False if a mapping fails; what was obtained until then stays held. */
static bool grow(uint64_t bytes)
{
	uint64_t want = (bytes + st.page - 1) / st.page * st.page;

	while (want > 0) {
		size_t len = want < CHUNK_BYTES ? (size_t)want : CHUNK_BYTES;
		unsigned char *addr;

		if (st.nchunks == st.cap) {
			size_t cap = st.cap ? st.cap * 2 : 256;
			struct chunk *c = realloc(st.chunks, cap * sizeof(*c));

			if (!c)
				return false;
			st.chunks = c;
			st.cap = cap;
		}
		if (st.mark_held && st.held + len > st.mark_held) {
			/* Before the touch, which may wait for reclaim or a deflate. */
			printf("memload: past_available held_mib=%" PRIu64 " avail_mib=%" PRIu64 "\n", held_mib(),
			       st.mark_avail / MIB);
			st.mark_held = 0;
		}
		addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (addr == MAP_FAILED)
			return false;
		touch_range(addr, len);
		st.chunks[st.nchunks++] = (struct chunk){ .addr = addr, .len = len };
		st.held += len;
		want -= len;
		/* A large fast alloc can take many seconds under TCG: keep the
		 * status lines coming, but skip re-touching so as not to slow it. */
		tick(false);
	}
	return true;
}

/* Release `bytes` (rounded up to whole pages), newest memory first.  The
 * last chunk released may be cut short, so the amount is exact to a page. */
static void shrink(uint64_t bytes)
{
	while (bytes > 0 && st.nchunks > 0) {
		struct chunk *c = &st.chunks[st.nchunks - 1];

		if (bytes >= c->len) {
			munmap(c->addr, c->len);
			st.held -= c->len;
			bytes -= c->len;
			st.nchunks--;
		} else {
			size_t cut = (size_t)((bytes + st.page - 1) / st.page * st.page);

			munmap(c->addr + c->len - cut, cut);
			c->len -= cut;
			st.held -= cut;
			bytes = 0;
		}
	}
}

/* ---- phases ------------------------------------------------------------- */

/* MemAvailable in bytes, or 0 when /proc/meminfo cannot say. */
static uint64_t mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	unsigned long long kib = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1)
			break;
	fclose(f);
	return (uint64_t)kib * KIB;
}

static void run_alloc(const struct phase *ph)
{
	uint64_t done = 0;
	int64_t start;

	st.mark_avail = mem_available();
	st.mark_held = st.mark_avail && ph->bytes > st.mark_avail ? st.held + st.mark_avail : 0;

	if (ph->rate == 0) {
		if (!grow(ph->bytes))
			printf("memload: alloc failed at held_mib=%" PRIu64 "\n", held_mib());
		return;
	}
	start = now_ms();
	while (done < ph->bytes) {
		/* Pace against the phase's start, not the previous slice, so that
		 * time spent touching memory does not slow the rate down. */
		uint64_t elapsed = (uint64_t)(now_ms() - start);
		/* 128-bit: rate * elapsed can exceed 64 bits for large rates. */
		unsigned __int128 d = (unsigned __int128)ph->rate * elapsed / 1000;
		uint64_t due = d < ph->bytes ? (uint64_t)d - (uint64_t)d % st.page : ph->bytes;

		if (due > done) {
			if (!grow(due - done)) {
				printf("memload: alloc failed at held_mib=%" PRIu64 "\n", held_mib());
				return;
			}
			done = due;
		}
		if (done < ph->bytes)
			wait_until(now_ms() + RATE_SLICE_MS);
	}
}

static void run(const struct phase *phases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct phase *ph = &phases[i];

		st.phase = phase_names[ph->kind];
		print_status();
		st.next_status_ms = now_ms() + STATUS_INTERVAL_MS;

		switch (ph->kind) {
		case PH_ALLOC:
			run_alloc(ph);
			break;
		case PH_HOLD:
			wait_until(now_ms() + ph->duration_ms);
			break;
		case PH_FREE:
			shrink(ph->bytes);
			break;
		case PH_IDLE:
			wait_until(INT64_MAX);
			break;
		case PH_LOOP:
			i = (size_t)-1; /* the loop's i++ brings it back to 0 */
			break;
		}
	}
}

static uint64_t make_seed(void)
{
	uint64_t seed;
	struct timespec ts;

	/* GRND_NONBLOCK: early in a TCG guest's boot the entropy pool may not be
	 * ready, and the seed only needs to differ between guests, not be secret. */
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed))
		return seed;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 32;
}

int main(int argc, char **argv)
{
	static struct phase phases[MAX_PHASES];
	char buf[MAX_SPEC], why_buf[256];
	const char *spec, *why;
	size_t nphases = 0;

	/* The console is a tty, but be explicit: every line must appear at once
	 * and in order with the kernel's own messages. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	st.page = (size_t)sysconf(_SC_PAGESIZE);
	st.seed = make_seed();
	st.phase = "start";

	if (argc > 1) {
		snprintf(buf, sizeof(buf), "%s", argv[1]);
		spec = buf;
	} else {
		spec = spec_from_cmdline(buf, sizeof(buf));
	}

	printf("memload: start\n");
	if (!spec) {
		spec = "";
		why = "no memload= on the kernel command line";
	} else {
		why = parse_spec(spec, phases, &nphases, why_buf, sizeof(why_buf));
	}
	if (why) {
		static const struct phase idle = { .kind = PH_IDLE };

		printf("memload: bad spec \"%s\": %s\n", spec, why);
		run(&idle, 1);
	}
	run(phases, nphases);
	printf("memload: done\n");
	return 0;
}
