/* test_conf.c: conf_load() on the fixture files in tests/fixtures/conf/,
 * the merge of [vm NAME] over [defaults], and conf_size_resolve(). */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"
#include "util.h"

static char fixture_dir[1024];

/* The fixtures, from the repo root or wherever the binary is run: the
 * binary lives in build/tests/. */
static void fixture_dir_find(void)
{
    char exe[PATH_MAX];
    ssize_t n;

    if (getenv("CONF_FIXTURES")) {
        snprintf(fixture_dir, sizeof(fixture_dir), "%s", getenv("CONF_FIXTURES"));
        return;
    }
    snprintf(fixture_dir, sizeof(fixture_dir), "tests/fixtures/conf");
    if (access(fixture_dir, R_OK) == 0)
        return;
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n < 0)
        return;
    exe[n] = '\0';
    snprintf(fixture_dir, sizeof(fixture_dir), "%s/../../tests/fixtures/conf", dirname(exe));
}

static const char *fixture(const char *name, char buf[PATH_MAX])
{
    snprintf(buf, PATH_MAX, "%s/%s", fixture_dir, name);
    return buf;
}

static struct conf *load_ok(const char *name)
{
    char path[PATH_MAX];
    struct conf *c = NULL;
    char *err = NULL;
    int r = conf_load_ex(fixture(name, path), &c, &err);

    if (r != 0)
        fail_msg("%s: r=%d: %s", name, r, err ? err : "(no message)");
    assert_non_null(c);
    assert_null(err);
    return c;
}

struct load_case {
    const char *file;
    int r;
    unsigned line;       /* of the first error; 0: the message names no line */
    const char *needle;  /* in the first error */
};

static const struct load_case load_cases[] = {
    { "minimal.conf", 0, 0, NULL },
    { "empty.conf", 0, 0, NULL },
    { "comments_only.conf", 0, 0, NULL },
    { "bom_crlf.conf", 0, 0, NULL },
    { "does-not-exist.conf", -ENOENT, 0, ": cannot open: No such file or directory" },
    { "bad_size.conf", -EINVAL, 5,
      "[vm web1] min: \"12Q\" is not a size (use e.g. 512M, 4G or 25%)" },
    { "bad_pct.conf", -EINVAL, 3, "[defaults] max: \"101%\" is out of range (0%..100%)" },
    { "buffer_range.conf", -EINVAL, 2, "[defaults] buffer: \"401\" is out of range (0..400)" },
    { "buffer_nan.conf", -EINVAL, 2, "[vm a] buffer: \"lots\" is not a whole number" },
    { "shares_range.conf", -EINVAL, 3, "[vm a] shares: \"0\" is out of range (1..1000000)" },
    { "interval_range.conf", -EINVAL, 3,
      "[host] interval: \"50ms\" is out of range (100ms..60s)" },
    { "interval_long.conf", -EINVAL, 2, "[host] interval: \"2m\" is out of range" },
    { "unknown_key.conf", -EINVAL, 3, "[host] intervall: unknown key" },
    { "unknown_section.conf", -EINVAL, 3, "[hosts]: unknown section" },
    { "wrong_section.conf", -EINVAL, 3, "[vm x] interval: not allowed here; it belongs in [host]" },
    { "wrong_section_host.conf", -EINVAL, 2,
      "[host] min: not allowed here; it belongs in [defaults] or [vm NAME]" },
    { "dup_vm.conf", -EINVAL, 4, "duplicate section [vm web1] (first on line 1)" },
    { "dup_key.conf", -EINVAL, 4, "[vm web1] min: set twice in this section (first on line 2)" },
    { "min_gt_max.conf", -EINVAL, 4,
      "[vm web1] min 4G is larger than max 2G (from [defaults])" },
    { "relative_path.conf", -EINVAL, 2,
      "[host] socket_dir: \"run/balloond/qmp\" is not an absolute path" },
    { "cgroup_relative.conf", -EINVAL, 2, "[host] cgroup: \"machine.slice\" is not an absolute" },
    { "budget_pct.conf", -EINVAL, 2, "[host] budget: \"50%\": use an absolute size" },
    { "step_small.conf", -EINVAL, 2, "[host] step: \"512K\" is too small" },
    { "bad_policy.conf", -EINVAL, 2, "[host] policy: \"vmware\" is not a policy (balloond, proxmox, mom or static)" },
    { "bad_bool.conf", -EINVAL, 2, "[host] ksm: \"maybe\" is not on or off" },
    { "bad_compressor.conf", -EINVAL, 2, "[host] zswap_compressor: \"LZ4 fast\" is not a compressor name" },
    { "idle_tax_range.conf", -EINVAL, 2, "[host] idle_tax: \"100\" is out of range (0..99)" },
    { "zswap_pool_range.conf", -EINVAL, 2, "[host] zswap_max_pool: \"80%\" is out of range (1..50)" },
    { "no_equals.conf", -EINVAL, 2, "\"interval 1s\": expected \"key = value\"" },
    { "no_bracket.conf", -EINVAL, 1, "section header without a closing ']'" },
    { "outside_section.conf", -EINVAL, 1, "interval: outside any section" },
    { "indented.conf", -EINVAL, 3, "indented line is read as more of the value of \"min\"" },
    { "bad_vm_name.conf", -EINVAL, 1, "[vm ]: not a VM name" },
    { "empty_value.conf", -EINVAL, 2, "[vm a] min: no value" },
    { "long_line.conf", -EINVAL, 3, "line is longer than 198 characters" },
    { "long_comment.conf", -EINVAL, 3, "[host] step: \"1K\" is too small" },
    { "many_errors.conf", -EINVAL, 2, "[host] interval: \"10ms\"" },
};

static void test_load_table(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(load_cases); i++) {
        const struct load_case *t = &load_cases[i];
        struct conf *sentinel = (struct conf *)&load_cases[i];
        struct conf *c = sentinel;
        char path[PATH_MAX], prefix[PATH_MAX + 64];
        char *err = NULL;
        int r;

        r = conf_load_ex(fixture(t->file, path), &c, &err);
        if (r != t->r)
            fail_msg("%s: r=%d, expected %d (%s)", t->file, r, t->r, err ? err : "-");
        if (r == 0) {
            assert_ptr_not_equal(c, sentinel);
            assert_null(err);
            conf_free(c);
            continue;
        }
        assert_ptr_equal(c, sentinel);  /* *out untouched on failure */
        assert_non_null(err);
        if (t->line)
            snprintf(prefix, sizeof(prefix), "%s:%u: ", path, t->line);
        else
            snprintf(prefix, sizeof(prefix), "%s: ", path);
        if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, t->needle))
            fail_msg("%s: got '%s', expected '%s...%s'", t->file, err, prefix, t->needle);
        free(err);
    }
}

/* Runs load on path with stderr sent to a file; returns what was logged. */
static char *load_logged(const char *path, int *r)
{
    struct conf *c = NULL;
    FILE *log = tmpfile();
    int saved = dup(STDERR_FILENO);
    char *text = calloc(1, 8192);

    assert_non_null(log);
    assert_non_null(text);
    fflush(stderr);
    dup2(fileno(log), STDERR_FILENO);
    *r = conf_load(path, &c);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(log);
    text[fread(text, 1, 8191, log)] = '\0';
    fclose(log);
    assert_null(c);
    return text;
}

static unsigned count(const char *haystack, const char *needle)
{
    unsigned n = 0;

    for (const char *s = haystack; (s = strstr(s, needle)); s += strlen(needle))
        n++;
    return n;
}

/* All errors are logged, each once, each with its own line. */
static void test_load_logs_every_error(void **state)
{
    static const unsigned lines[] = { 2, 3, 5, 6, 7 };
    char path[PATH_MAX], where[PATH_MAX + 64];
    int r;
    char *log = load_logged(fixture("many_errors.conf", path), &r);

    assert_int_equal(r, -EINVAL);
    assert_int_equal(count(log, "\n"), ARRAY_SIZE(lines));
    for (size_t i = 0; i < ARRAY_SIZE(lines); i++) {
        snprintf(where, sizeof(where), "%s:%u: ", path, lines[i]);
        if (count(log, where) != 1)
            fail_msg("expected one error at %s in:\n%s", where, log);
    }
    free(log);

    /* Line numbers stay right after a line too long for inih's buffer. */
    log = load_logged(fixture("long_line.conf", path), &r);
    assert_int_equal(r, -EINVAL);
    assert_int_equal(count(log, "\n"), 2);
    snprintf(where, sizeof(where), "%s:5: [host] step: \"1K\"", path);
    assert_non_null(strstr(log, where));
    free(log);
}

static void test_load_missing_logs_once(void **state)
{
    int r;
    char *log = load_logged("/nonexistent/balloond.conf", &r);

    assert_int_equal(r, -ENOENT);
    assert_string_equal(log, "balloond[error]: /nonexistent/balloond.conf: cannot open: "
                             "No such file or directory\n");
    free(log);
}

static void test_defaults(void **state)
{
    struct conf *c = conf_new_default();

    assert_non_null(c);
    assert_null(c->path);
    assert_int_equal(c->host.interval_ms, 1000);
    assert_string_equal(c->host.socket_dir, "/run/balloond/qmp");
    assert_string_equal(c->host.control_socket, "/run/balloond/ctl.sock");
    assert_string_equal(c->host.state_file, "/var/lib/balloond/state.json");
    assert_int_equal(c->host.budget_bytes, 0);
    assert_null(c->host.cgroup);
    assert_true(c->host.reserve.set && c->host.reserve.is_pct);
    assert_int_equal(c->host.reserve.pct, 5);
    assert_int_equal(c->host.step_bytes, 128 * MIB);
    assert_true(c->defaults.min.set && c->defaults.min.is_pct);
    assert_int_equal(c->defaults.min.pct, 25);
    assert_true(c->defaults.max.set && c->defaults.max.is_pct);
    assert_int_equal(c->defaults.max.pct, 100);
    assert_true(c->defaults.buffer_set);
    assert_int_equal(c->defaults.buffer_pct, 20);
    assert_true(c->defaults.shares_set);
    assert_int_equal(c->defaults.shares, 1000);
    assert_int_equal(c->n_vms, 0);
    conf_free(c);
    conf_free(NULL);
}

/* An empty file is the built-in defaults, with a path. */
static void test_empty_is_defaults(void **state)
{
    struct conf *c = load_ok("empty.conf");
    struct conf *d = conf_new_default();

    assert_non_null(strstr(c->path, "empty.conf"));
    assert_int_equal(c->host.interval_ms, d->host.interval_ms);
    assert_string_equal(c->host.socket_dir, d->host.socket_dir);
    assert_string_equal(c->host.control_socket, d->host.control_socket);
    assert_string_equal(c->host.state_file, d->host.state_file);
    assert_int_equal(c->host.budget_bytes, d->host.budget_bytes);
    assert_null(c->host.cgroup);
    assert_memory_equal(&c->host.reserve, &d->host.reserve, sizeof(d->host.reserve));
    assert_int_equal(c->host.step_bytes, d->host.step_bytes);
    assert_memory_equal(&c->defaults, &d->defaults, sizeof(d->defaults));
    assert_int_equal(c->n_vms, 0);
    conf_free(d);
    conf_free(c);
}

static void test_good(void **state)
{
    struct conf *c = load_ok("good.conf");

    assert_int_equal(c->host.interval_ms, 500);
    assert_string_equal(c->host.socket_dir, "/srv/qmp");
    assert_string_equal(c->host.control_socket, "/run/b/ctl.sock");
    assert_string_equal(c->host.state_file, "/var/lib/b/state.json");
    assert_int_equal(c->host.budget_bytes, 48 * GIB);
    assert_string_equal(c->host.cgroup, "/sys/fs/cgroup/machine.slice");
    assert_true(c->host.reserve.set);
    assert_false(c->host.reserve.is_pct);
    assert_int_equal(c->host.reserve.bytes, 2 * GIB);
    assert_int_equal(c->host.step_bytes, 256 * MIB);
    assert_int_equal(c->host.policy, POLICY_KIND_MOM);
    assert_int_equal(c->host.idle_tax_pct, 50);
    assert_false(c->host.ksm);
    assert_true(c->host.zswap);
    assert_string_equal(c->host.zswap_compressor, "zstd");
    assert_int_equal(c->host.zswap_max_pool_pct, 30);
    assert_int_equal(c->host.zram_bytes, 256 * MIB);
    assert_string_equal(c->host.zram_algorithm, "lzo-rle");
    assert_int_equal(c->defaults.min.pct, 30);
    assert_int_equal(c->defaults.max.pct, 90);
    assert_int_equal(c->defaults.buffer_pct, 25);
    assert_int_equal(c->defaults.shares, 500);
    assert_int_equal(c->n_vms, 2);
    assert_string_equal(c->vm_names[0], "web1");
    assert_string_equal(c->vm_names[1], "db");
    /* Sections hold only what they set. */
    assert_true(c->vms[0].min.set);
    assert_false(c->vms[0].buffer_set);
    assert_false(c->vms[1].min.set);
    conf_free(c);
}

/* The shipped example stays valid. */
static void test_example(void **state)
{
    struct conf *c = load_ok("../../../balloond.conf.example");
    struct conf_vm web1 = conf_vm_get(c, "web1");

    assert_int_equal(c->host.interval_ms, 1000);
    assert_int_equal(c->host.budget_bytes, 48 * GIB);
    assert_int_equal(c->n_vms, 2);
    assert_int_equal(web1.max.bytes, 8 * GIB);
    conf_free(c);
}

static void test_bom_crlf(void **state)
{
    struct conf *c = load_ok("bom_crlf.conf");

    assert_int_equal(c->host.interval_ms, 2000);
    conf_free(c);
}

static void test_vm_get_merges(void **state)
{
    struct conf *c = load_ok("good.conf");
    struct conf_vm web1 = conf_vm_get(c, "web1");
    struct conf_vm db = conf_vm_get(c, "db");
    struct conf_vm other = conf_vm_get(c, "web2");

    /* web1: own min, max, shares; buffer from [defaults]. */
    assert_true(web1.min.set && !web1.min.is_pct);
    assert_int_equal(web1.min.bytes, 2 * GIB);
    assert_true(web1.max.set && !web1.max.is_pct);
    assert_int_equal(web1.max.bytes, 8 * GIB);
    assert_true(web1.buffer_set);
    assert_int_equal(web1.buffer_pct, 25);
    assert_true(web1.shares_set);
    assert_int_equal(web1.shares, 2000);
    /* db: own buffer ("40%" is accepted for buffer); the rest from [defaults]. */
    assert_true(db.min.is_pct);
    assert_int_equal(db.min.pct, 30);
    assert_int_equal(db.max.pct, 90);
    assert_int_equal(db.buffer_pct, 40);
    assert_int_equal(db.shares, 500);
    /* No section: [defaults] as is. */
    assert_memory_equal(&other, &c->defaults, sizeof(other));
    conf_free(c);

    /* The minimal file: [vm web1] over the built-in defaults. */
    c = load_ok("minimal.conf");
    web1 = conf_vm_get(c, "web1");
    assert_int_equal(web1.min.bytes, GIB);
    assert_false(web1.min.is_pct);
    assert_true(web1.max.is_pct);
    assert_int_equal(web1.max.pct, 100);
    assert_int_equal(web1.buffer_pct, 20);
    assert_int_equal(web1.shares, 1000);
    conf_free(c);
}

static void test_size_resolve(void **state)
{
    static const struct {
        struct conf_size s;
        uint64_t base, want;
    } cases[] = {
        { { .set = true, .is_pct = true, .pct = 25 }, 8 * GIB, 2 * GIB },
        { { .set = true, .is_pct = true, .pct = 100 }, 8 * GIB, 8 * GIB },
        { { .set = true, .is_pct = true, .pct = 0 }, 8 * GIB, 0 },
        { { .set = true, .is_pct = true, .pct = 33 }, 100, 33 },
        { { .set = true, .is_pct = true, .pct = 50 }, 3, 1 },  /* rounds down */
        { { .set = true, .is_pct = true, .pct = 100 }, UINT64_MAX, UINT64_MAX },
        { { .set = true, .is_pct = true, .pct = 50 }, UINT64_MAX, UINT64_MAX / 2 },
        { { .set = true, .bytes = 512 * MIB }, 8 * GIB, 512 * MIB },
        { { .set = true, .bytes = 512 * MIB }, 0, 512 * MIB },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
        assert_int_equal(conf_size_resolve(&cases[i].s, cases[i].base), cases[i].want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_load_table),
        cmocka_unit_test(test_load_logs_every_error),
        cmocka_unit_test(test_load_missing_logs_once),
        cmocka_unit_test(test_empty_is_defaults),
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_example),
        cmocka_unit_test(test_bom_crlf),
        cmocka_unit_test(test_vm_get_merges),
        cmocka_unit_test(test_size_resolve),
    };

    fixture_dir_find();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
