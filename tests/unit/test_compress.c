/* test_compress.c: the compression rung on fixture trees (FIXTURES, by
 * default tests/fixtures, relative to the repo root): the decision table,
 * and observe / apply / restore / sample through zswap.c and zram.c on a
 * writable copy of tests/fixtures/compress/host with the swap syscalls
 * replaced by fakes. The parsers are in test_swaps.c and test_zram.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <unistd.h>

#include <cmocka.h>

#include "compress.h"
#include "fixture.h"
#include "zram.h"
#include "util.h"

#define SENTINEL 0xa5

static const char *fx(const char *rel)
{
    return fixture_path("compress", rel);
}

/* ---- the decision table ---- */

enum { T = true, F = false };

static void test_decide(void **state)
{
    static const struct {
        const char *name;
        struct compress_input in;
        enum compress_zswap_action zswap;
        uint64_t zram_bytes;
    } cases[] = {
        /* zswap with disk swap: from tight on */
        { "disk plenty", { HOST_PLENTY, T, T, F, F, T, F, 0, 0, T, F }, COMPRESS_ZSWAP_NONE, 0 },
        { "disk tight", { HOST_TIGHT, T, T, F, F, T, F, 0, 0, T, F }, COMPRESS_ZSWAP_ENABLE, 0 },
        { "disk critical", { HOST_CRITICAL, T, T, F, F, T, F, 0, 0, T, F }, COMPRESS_ZSWAP_ENABLE, 0 },
        { "disk critical, zram configured", { HOST_CRITICAL, T, T, F, F, T, F, 0, 64 * MIB, T, F },
          COMPRESS_ZSWAP_ENABLE, 0 },
        { "not wanted", { HOST_CRITICAL, F, T, F, F, T, F, 0, 0, T, F }, COMPRESS_ZSWAP_NONE, 0 },
        { "no zswap in kernel", { HOST_CRITICAL, T, F, F, F, T, F, 0, 0, T, F }, COMPRESS_ZSWAP_NONE, 0 },
        { "already as wanted", { HOST_TIGHT, T, T, T, F, T, F, 0, 0, T, F }, COMPRESS_ZSWAP_NONE, 0 },
        { "tight without swap", { HOST_TIGHT, T, T, F, F, F, F, 0, 0, T, F }, COMPRESS_ZSWAP_NONE, 0 },
        { "in front of zram", { HOST_TIGHT, T, T, F, F, T, T, 0, 0, T, F }, COMPRESS_ZSWAP_NONE, 0 },
        { "in front of our zram", { HOST_TIGHT, T, T, F, F, T, F, 0, 64 * MIB, T, T },
          COMPRESS_ZSWAP_NONE, 0 },
        /* ours: kept while swap holds pages, back once it is empty at plenty */
        { "ours, tight", { HOST_TIGHT, T, T, T, T, T, F, 0, 0, T, F }, COMPRESS_ZSWAP_NONE, 0 },
        { "ours, plenty, swap used", { HOST_PLENTY, T, T, T, T, T, F, 4096, 0, T, F },
          COMPRESS_ZSWAP_NONE, 0 },
        { "ours, plenty, swap empty", { HOST_PLENTY, T, T, T, T, T, F, 0, 0, T, F },
          COMPRESS_ZSWAP_RESTORE, 0 },
        { "ours, disk swap gone, empty", { HOST_CRITICAL, T, T, F, T, F, F, 0, 0, T, F },
          COMPRESS_ZSWAP_RESTORE, 0 },
        { "ours, disk swap gone, used", { HOST_CRITICAL, T, T, F, T, F, F, 8192, 0, T, F },
          COMPRESS_ZSWAP_NONE, 0 },
        /* zram without swap: configured and critical only */
        { "noswap critical", { HOST_CRITICAL, T, T, F, F, F, F, 0, 64 * MIB, T, F },
          COMPRESS_ZSWAP_NONE, 64 * MIB },
        { "noswap tight", { HOST_TIGHT, T, T, F, F, F, F, 0, 64 * MIB, T, F }, COMPRESS_ZSWAP_NONE, 0 },
        { "noswap plenty", { HOST_PLENTY, T, T, F, F, F, F, 0, 64 * MIB, T, F }, COMPRESS_ZSWAP_NONE, 0 },
        { "not configured", { HOST_CRITICAL, T, T, F, F, F, F, 0, 0, T, F }, COMPRESS_ZSWAP_NONE, 0 },
        { "zram unavailable", { HOST_CRITICAL, T, T, F, F, F, F, 0, 64 * MIB, F, F },
          COMPRESS_ZSWAP_NONE, 0 },
        { "zram exists", { HOST_CRITICAL, T, T, F, F, F, F, 4096, 64 * MIB, T, T },
          COMPRESS_ZSWAP_NONE, 0 },
        { "someone else's zram", { HOST_CRITICAL, T, T, F, F, F, T, 0, 64 * MIB, T, F },
          COMPRESS_ZSWAP_NONE, 0 },
        { "zswap not wanted, zram", { HOST_CRITICAL, F, F, F, F, F, F, 0, 1 * GIB, T, F },
          COMPRESS_ZSWAP_NONE, 1 * GIB },
        /* both at once: the host's zswap settings back, and a zram */
        { "restore and zram", { HOST_CRITICAL, T, T, F, T, F, F, 0, 64 * MIB, T, F },
          COMPRESS_ZSWAP_RESTORE, 64 * MIB },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct compress_decision d;

        memset(&d, SENTINEL, sizeof(d));
        compress_decide(&cases[i].in, &d);
        print_message("decide: %-32s -> zswap %s, zram %llu (%s)\n", cases[i].name,
                      compress_zswap_action_name(d.zswap), (unsigned long long)d.zram_create_bytes,
                      d.why);
        assert_int_equal(d.zswap, cases[i].zswap);
        assert_int_equal(d.zram_create_bytes, cases[i].zram_bytes);
        assert_int_equal(d.zram_priority, cases[i].zram_bytes ? 100 : 0);
        assert_non_null(d.why);
    }
}

/* The swap header's little-endian u32 fields (test_zram.c checks it whole). */
static uint32_t u32_at(const unsigned char *p, size_t off)
{
    uint32_t v;
    memcpy(&v, p + off, sizeof(v));
    return v;
}

/* ---- a writable copy of the fixture tree ---- */

struct tree {
    char root[FIXTURE_TREE_MAX];
    char sys[80], proc[80], dev[80];
};

static void tree_copy(struct tree *t)
{
    fixture_tree_copy(fx("host"), "test_compress", t->root);
    snprintf(t->sys, sizeof(t->sys), "%s/sys", t->root);
    snprintf(t->proc, sizeof(t->proc), "%s/proc", t->root);
    snprintf(t->dev, sizeof(t->dev), "%s/dev", t->root);
}

static void tree_rm(struct tree *t)
{
    fixture_tree_rm(t->root);
}

static const char *tpath(const struct tree *t, const char *rel)
{
    static char bufs[4][PATH_MAX];
    static unsigned next;
    char *b = bufs[next++ % ARRAY_SIZE(bufs)];

    snprintf(b, PATH_MAX, "%s/%s", t->root, rel);
    return b;
}

static void put(const struct tree *t, const char *rel, const char *content)
{
    fixture_put(tpath(t, rel), content);
}

/* What a test wrote over a fixture file, without the trailing newline
 * (sysfs writes do not truncate, so tests empty the files they expect). */
static void expect(const struct tree *t, const char *rel, const char *want)
{
    char buf[256];
    int n = read_file(tpath(t, rel), buf, sizeof(buf));

    assert_true(n >= 0);
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    if (strcmp(buf, want) != 0)
        fail_msg("%s: \"%s\", expected \"%s\"", rel, buf, want);
}

#define ZSWAP "sys/module/zswap/parameters/"
#define ZRAM1 "sys/block/zram1/"

/* ---- fakes for the swap syscalls and modprobe ---- */

static struct {
    unsigned swapon_calls, swapoff_calls, modprobe_calls;
    char swapon_path[PATH_MAX], swapoff_path[PATH_MAX];
    int swapon_flags;
    int swapon_errno;   /* 0: succeed */
} fake;

static int fake_swapon(const char *path, int flags)
{
    fake.swapon_calls++;
    snprintf(fake.swapon_path, sizeof(fake.swapon_path), "%s", path);
    fake.swapon_flags = flags;
    if (fake.swapon_errno) {
        errno = fake.swapon_errno;
        return -1;
    }
    return 0;
}

static int fake_swapoff(const char *path)
{
    fake.swapoff_calls++;
    snprintf(fake.swapoff_path, sizeof(fake.swapoff_path), "%s", path);
    return 0;
}

static int fake_modprobe(const char *const argv[])
{
    fake.modprobe_calls++;
    return 1;
}

static const struct zram_sys_ops fake_ops = { fake_swapon, fake_swapoff, fake_modprobe };

static const struct compress_conf conf_both = {
    .zswap = true, .zswap_compressor = "lz4", .zswap_max_pool_pct = 25,
    .zram_bytes = 64 * MIB, .zram_algorithm = "lz4",
};

static struct compress *ctx(const struct tree *t, const struct compress_conf *conf)
{
    struct compress *c = NULL;

    memset(&fake, 0, sizeof(fake));
    assert_int_equal(compress_new(t->sys, t->proc, t->dev, conf, &c), 0);
    compress_set_sys_ops(c, &fake_ops);
    return c;
}

static void tick(struct compress *c, enum host_state s, struct compress_decision *d)
{
    struct compress_input in;

    assert_int_equal(compress_observe(c, s, &in), 0);
    compress_decide(&in, d);
}

static void test_new(void **state)
{
    struct compress_conf bad = conf_both;
    struct compress *c = (struct compress *)&bad;

    bad.zswap_max_pool_pct = 101;
    assert_int_equal(compress_new("/sys", "/proc", "/dev", &bad, &c), -EINVAL);
    assert_ptr_equal(c, (struct compress *)&bad);
    compress_free(NULL);
}

static void test_observe(void **state)
{
    struct tree t;
    struct compress *c;
    struct compress_input in, untouched;

    tree_copy(&t);
    c = ctx(&t, &conf_both);
    /* this machine: zswap off (lzo, 20 %), no swap, zram-control */
    assert_int_equal(compress_observe(c, HOST_TIGHT, &in), 0);
    assert_int_equal(in.state, HOST_TIGHT);
    assert_true(in.zswap_wanted && in.zswap_present && in.zram_available);
    assert_false(in.zswap_as_wanted || in.zswap_ours || in.disk_swap || in.other_zram_swap ||
                 in.zram_ours);
    assert_int_equal(in.swap_used_bytes, 0);
    assert_int_equal(in.zram_bytes, 64 * MIB);

    put(&t, "proc/swaps", fixture_slurp(fx("swaps/file-and-zram")));
    assert_int_equal(compress_observe(c, HOST_PLENTY, &in), 0);
    assert_true(in.disk_swap && in.other_zram_swap);
    assert_int_equal(in.swap_used_bytes, 12 * KIB);

    /* zswap already as configured */
    put(&t, ZSWAP "enabled", "Y\n");
    put(&t, ZSWAP "compressor", "lz4\n");
    put(&t, ZSWAP "max_pool_percent", "25\n");
    assert_int_equal(compress_observe(c, HOST_PLENTY, &in), 0);
    assert_true(in.zswap_as_wanted);

    /* a malformed or absent zswap: not present, not an error */
    put(&t, ZSWAP "enabled", "maybe\n");
    assert_int_equal(compress_observe(c, HOST_PLENTY, &in), 0);
    assert_false(in.zswap_present || in.zswap_as_wanted);
    put(&t, ZSWAP "enabled", "N\n");
    put(&t, ZSWAP "max_pool_percent", "250\n");
    assert_int_equal(compress_observe(c, HOST_PLENTY, &in), 0);
    assert_false(in.zswap_present);
    unlink(tpath(&t, ZSWAP "max_pool_percent"));
    assert_int_equal(compress_observe(c, HOST_PLENTY, &in), 0);
    assert_false(in.zswap_present);

    /* no zram-control off the real /sys: never modprobe */
    unlink(tpath(&t, "sys/class/zram-control/hot_add"));
    assert_int_equal(compress_observe(c, HOST_CRITICAL, &in), 0);
    assert_false(in.zram_available);

    /* /proc/swaps malformed or missing: an error, in left alone */
    memset(&in, SENTINEL, sizeof(in));
    untouched = in;
    put(&t, "proc/swaps", fixture_slurp(fx("swaps/truncated")));
    assert_int_equal(compress_observe(c, HOST_PLENTY, &in), -EINVAL);
    unlink(tpath(&t, "proc/swaps"));
    assert_int_equal(compress_observe(c, HOST_PLENTY, &in), -ENOENT);
    assert_memory_equal(&in, &untouched, sizeof(in));
    assert_int_equal(fake.modprobe_calls, 0);
    compress_free(c);
    tree_rm(&t);
}

static void test_zswap_enable_restore(void **state)
{
    struct tree t;
    struct compress *c;
    struct compress_decision d;

    tree_copy(&t);
    put(&t, "proc/swaps", fixture_slurp(fx("swaps/disk")));
    c = ctx(&t, &conf_both);

    tick(c, HOST_PLENTY, &d);
    assert_int_equal(d.zswap, COMPRESS_ZSWAP_NONE);
    tick(c, HOST_TIGHT, &d);
    assert_int_equal(d.zswap, COMPRESS_ZSWAP_ENABLE);
    assert_int_equal(d.zram_create_bytes, 0);  /* disk swap: never zram */
    assert_int_equal(compress_apply(c, &d), 0);
    expect(&t, ZSWAP "enabled", "Y");
    expect(&t, ZSWAP "compressor", "lz4");
    expect(&t, ZSWAP "max_pool_percent", "25");
    expect(&t, ZSWAP "accept_threshold_percent", "90");  /* not ours to touch */

    /* back at plenty, swap still holds 20 MiB: keep it on */
    tick(c, HOST_PLENTY, &d);
    assert_int_equal(d.zswap, COMPRESS_ZSWAP_NONE);
    /* swap empty: the host's settings come back */
    put(&t, "proc/swaps", fixture_slurp(fx("swaps/disk-empty")));
    tick(c, HOST_PLENTY, &d);
    assert_int_equal(d.zswap, COMPRESS_ZSWAP_RESTORE);
    assert_int_equal(compress_apply(c, &d), 0);
    expect(&t, ZSWAP "enabled", "N");
    expect(&t, ZSWAP "compressor", "lzo");
    expect(&t, ZSWAP "max_pool_percent", "20");

    /* tight again, then exit: restore puts them back too, twice is fine */
    tick(c, HOST_TIGHT, &d);
    assert_int_equal(d.zswap, COMPRESS_ZSWAP_ENABLE);
    assert_int_equal(compress_apply(c, &d), 0);
    expect(&t, ZSWAP "enabled", "Y");
    assert_int_equal(compress_restore(c), 0);
    assert_int_equal(compress_restore(c), 0);
    expect(&t, ZSWAP "enabled", "N");
    expect(&t, ZSWAP "compressor", "lzo");
    expect(&t, ZSWAP "max_pool_percent", "20");
    assert_int_equal(fake.swapon_calls + fake.swapoff_calls, 0);
    compress_free(c);
    tree_rm(&t);
}

static void test_zswap_enable_fails(void **state)
{
    struct tree t;
    struct compress *c;
    struct compress_decision d;

    tree_copy(&t);
    put(&t, "proc/swaps", fixture_slurp(fx("swaps/disk")));
    c = ctx(&t, &conf_both);
    tick(c, HOST_TIGHT, &d);
    assert_int_equal(d.zswap, COMPRESS_ZSWAP_ENABLE);
    /* the kernel refuses the limit (here: a read-only file) */
    chmod(tpath(&t, ZSWAP "max_pool_percent"), 0444);
    if (access(tpath(&t, ZSWAP "max_pool_percent"), W_OK) == 0) {
        /* root ignores modes: make the write fail another way */
        unlink(tpath(&t, ZSWAP "max_pool_percent"));
        assert_int_equal(mkdir(tpath(&t, ZSWAP "max_pool_percent"), 0755), 0);
    }
    assert_true(compress_apply(c, &d) < 0);
    expect(&t, ZSWAP "enabled", "N");
    expect(&t, ZSWAP "compressor", "lzo");  /* written, then put back */
    /* no retry every tick */
    tick(c, HOST_CRITICAL, &d);
    assert_int_equal(d.zswap, COMPRESS_ZSWAP_NONE);
    compress_free(c);
    tree_rm(&t);
}

static void test_zswap_compressor_refused(void **state)
{
    static const struct compress_decision enable = { .zswap = COMPRESS_ZSWAP_ENABLE, .why = "test" };
    struct tree t;
    struct compress *c;

    tree_copy(&t);
    put(&t, "proc/swaps", fixture_slurp(fx("swaps/disk")));
    c = ctx(&t, &conf_both);
    assert_int_equal(compress_apply(c, &enable), 0);  /* host settings saved */
    /* The kernel refuses the compressor: a write that fails (a dangling
     * symlink, as root ignores modes). zswap is enabled all the same. */
    unlink(tpath(&t, ZSWAP "compressor"));
    assert_int_equal(symlink(tpath(&t, "nowhere/compressor"), tpath(&t, ZSWAP "compressor")), 0);
    put(&t, ZSWAP "enabled", "N\n");
    put(&t, ZSWAP "max_pool_percent", "20\n");
    assert_int_equal(compress_apply(c, &enable), 0);
    expect(&t, ZSWAP "enabled", "Y");
    expect(&t, ZSWAP "max_pool_percent", "25");
    /* and it is not asked for again */
    unlink(tpath(&t, ZSWAP "compressor"));
    put(&t, ZSWAP "compressor", "842\n");
    assert_int_equal(compress_apply(c, &enable), 0);
    expect(&t, ZSWAP "compressor", "842");
    assert_int_equal(compress_restore(c), 0);
    expect(&t, ZSWAP "enabled", "N");
    expect(&t, ZSWAP "compressor", "lzo");
    expect(&t, ZSWAP "max_pool_percent", "20");
    compress_free(c);
    tree_rm(&t);
}

static void test_zram_create_remove(void **state)
{
    struct tree t;
    struct compress *c;
    struct compress_decision d;
    struct compress_stats st;
    unsigned char hdr[4096];
    int fd;

    tree_copy(&t);
    put(&t, ZRAM1 "comp_algorithm", "");
    put(&t, ZRAM1 "disksize", "");
    put(&t, ZRAM1 "mm_stat", fixture_slurp(fx("mm_stat/real")));
    c = ctx(&t, &conf_both);

    tick(c, HOST_TIGHT, &d);
    assert_int_equal(d.zram_create_bytes, 0);
    tick(c, HOST_CRITICAL, &d);
    assert_int_equal(d.zswap, COMPRESS_ZSWAP_NONE);  /* no swap: zswap would do nothing */
    assert_int_equal(d.zram_create_bytes, 64 * MIB);
    assert_int_equal(compress_apply(c, &d), 0);
    expect(&t, ZRAM1 "comp_algorithm", "lz4");
    expect(&t, ZRAM1 "disksize", "67108864");
    expect(&t, ZSWAP "enabled", "N");
    fd = open(tpath(&t, "dev/zram1"), O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, hdr, sizeof(hdr)), sizeof(hdr));
    close(fd);
    assert_int_equal(u32_at(hdr, 1028), 64 * MIB / 4096 - 1);
    assert_memory_equal(hdr + 4086, "SWAPSPACE2", 10);
    assert_int_equal(fake.swapon_calls, 1);
    assert_string_equal(fake.swapon_path, tpath(&t, "dev/zram1"));
    assert_int_equal(fake.swapon_flags, SWAP_FLAG_PREFER | SWAP_FLAG_DISCARD | 100);

    /* the kernel lists it; it is ours, not "other zram" */
    put(&t, "proc/swaps", fixture_slurp(fx("swaps/ours")));
    tick(c, HOST_CRITICAL, &d);
    assert_int_equal(d.zram_create_bytes, 0);
    assert_int_equal(d.zswap, COMPRESS_ZSWAP_NONE);
    assert_int_equal(compress_sample(c, &st), 0);
    assert_int_equal(st.zram_id, 1);
    assert_int_equal(st.zram_disk_bytes, 64 * MIB);
    assert_int_equal(st.zram_used_bytes, 1024 * KIB);
    assert_int_equal(st.zram.orig_bytes, 34082816);
    assert_int_equal(st.zram.compr_bytes, 13086124);
    assert_int_equal(st.zram.mem_used_bytes, 14094336);
    assert_float_equal(st.zram_ratio, 34082816.0 / 13086124, 1e-9);
    assert_int_equal(st.saved_bytes, 34082816 - 14094336);

    assert_int_equal(compress_restore(c), 0);
    assert_int_equal(fake.swapoff_calls, 1);
    assert_string_equal(fake.swapoff_path, tpath(&t, "dev/zram1"));
    expect(&t, ZRAM1 "reset", "1");
    expect(&t, "sys/class/zram-control/hot_remove", "1");
    assert_int_equal(compress_restore(c), 0);
    assert_int_equal(fake.swapoff_calls, 1);
    assert_int_equal(compress_sample(c, &st), 0);
    assert_int_equal(st.zram_id, -1);
    assert_int_equal(fake.modprobe_calls, 0);
    compress_free(c);
    tree_rm(&t);
}

static void test_zram_swapon_fails(void **state)
{
    struct tree t;
    struct compress *c;
    struct compress_decision d;

    tree_copy(&t);
    c = ctx(&t, &conf_both);
    fake.swapon_errno = EPERM;
    tick(c, HOST_CRITICAL, &d);
    assert_int_equal(compress_apply(c, &d), -EPERM);
    /* undone: reset and removed, never swapped off, not tried again */
    expect(&t, ZRAM1 "reset", "1");
    expect(&t, "sys/class/zram-control/hot_remove", "1");
    assert_int_equal(fake.swapoff_calls, 0);
    tick(c, HOST_CRITICAL, &d);
    assert_int_equal(d.zram_create_bytes, 0);
    assert_int_equal(compress_restore(c), 0);
    compress_free(c);
    tree_rm(&t);
}

static void test_zram_bad_hot_add(void **state)
{
    static const char *const contents[] = { "", "zram1\n", "-1\n", "99999999999\n" };
    struct compress_decision d;

    for (size_t i = 0; i < ARRAY_SIZE(contents); i++) {
        struct tree t;
        struct compress *c;

        tree_copy(&t);
        put(&t, "sys/class/zram-control/hot_add", contents[i]);
        c = ctx(&t, &conf_both);
        tick(c, HOST_CRITICAL, &d);
        assert_int_equal(compress_apply(c, &d), -EINVAL);
        assert_int_equal(fake.swapon_calls, 0);
        expect(&t, "sys/class/zram-control/hot_remove", "");
        compress_free(c);
        tree_rm(&t);
    }
}

static void test_sample_zswap(void **state)
{
    static const struct {
        const char *meminfo;       /* NULL: none */
        const char *debug_pool, *debug_pages;
        bool known;
        uint64_t pool_bytes, stored_bytes;
    } cases[] = {
        { "host/proc/meminfo", NULL, NULL, true, 0, 0 },
        { "meminfo/zswap-busy", NULL, NULL, true, 10240 * KIB, 33792 * KIB },
        /* kernels before 5.19: debugfs, when mounted */
        { "meminfo/no-zswap", "1048576\n", "1024\n", true, 1048576, 1024 * 4096 },
        { "meminfo/no-zswap", NULL, NULL, false, 0, 0 },
        { "meminfo/zswap-bad", NULL, NULL, false, 0, 0 },
        { NULL, "1048576\n", "lots\n", false, 0, 0 },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct tree t;
        struct compress *c;
        struct compress_stats st;

        tree_copy(&t);
        if (cases[i].meminfo)
            put(&t, "proc/meminfo", fixture_slurp(fx(cases[i].meminfo)));
        else
            unlink(tpath(&t, "proc/meminfo"));
        if (cases[i].debug_pool) {
            mkdir(tpath(&t, "sys/kernel"), 0755);
            mkdir(tpath(&t, "sys/kernel/debug"), 0755);
            mkdir(tpath(&t, "sys/kernel/debug/zswap"), 0755);
            put(&t, "sys/kernel/debug/zswap/pool_total_size", cases[i].debug_pool);
            put(&t, "sys/kernel/debug/zswap/stored_pages", cases[i].debug_pages);
        }
        c = ctx(&t, &conf_both);
        assert_int_equal(compress_sample(c, &st), 0);
        print_message("sample: %s\n", cases[i].meminfo ? cases[i].meminfo : "(no meminfo)");
        assert_false(st.zswap_enabled);
        assert_int_equal(st.zswap_known, cases[i].known);
        assert_int_equal(st.zswap_pool_bytes, cases[i].pool_bytes);
        assert_int_equal(st.zswap_stored_bytes, cases[i].stored_bytes);
        assert_float_equal(st.zswap_ratio,
                           cases[i].pool_bytes ? (double)cases[i].stored_bytes / cases[i].pool_bytes : 0,
                           1e-9);
        assert_int_equal(st.saved_bytes, cases[i].stored_bytes - cases[i].pool_bytes);
        assert_int_equal(st.zram_id, -1);
        compress_free(c);
        tree_rm(&t);
    }
}

static void test_sample_bad_mm_stat(void **state)
{
    struct tree t;
    struct compress *c;
    struct compress_decision d;
    struct compress_stats st, untouched;

    tree_copy(&t);
    c = ctx(&t, &conf_both);
    tick(c, HOST_CRITICAL, &d);
    assert_int_equal(compress_apply(c, &d), 0);
    put(&t, "proc/swaps", fixture_slurp(fx("swaps/ours")));
    put(&t, ZRAM1 "mm_stat", fixture_slurp(fx("mm_stat/two-fields")));
    memset(&st, SENTINEL, sizeof(st));
    untouched = st;
    assert_int_equal(compress_sample(c, &st), -EINVAL);
    assert_memory_equal(&st, &untouched, sizeof(st));
    assert_int_equal(compress_restore(c), 0);
    compress_free(c);
    tree_rm(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_new),
        cmocka_unit_test(test_observe),
        cmocka_unit_test(test_zswap_enable_restore),
        cmocka_unit_test(test_zswap_enable_fails),
        cmocka_unit_test(test_zswap_compressor_refused),
        cmocka_unit_test(test_zram_create_remove),
        cmocka_unit_test(test_zram_swapon_fails),
        cmocka_unit_test(test_zram_bad_hot_add),
        cmocka_unit_test(test_sample_zswap),
        cmocka_unit_test(test_sample_bad_mm_stat),
    };

    log_setup(LOG_EMERG, false);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
