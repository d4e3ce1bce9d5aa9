/* test_conf_keys.c: the config key table (conf_keys.c): one good value
 * per key lands in its field, the defaults, the merge of [vm NAME] over
 * [defaults], and what a reload keeps. A key added to the table without
 * a row here fails test_every_key_has_a_case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_keys.h"
#include "util.h"

static struct conf *parse(const char *text)
{
    struct conf *c = NULL;
    char *err = NULL;

    if (conf_parse_string("t", text, &c, &err) < 0)
        fail_msg("%s: %s", text, err ? err : "?");
    return c;
}

/* One row per key: a value, and a check of where it went. */
struct key_case {
    const char *key, *value;
    bool (*check)(const struct conf *c);
};

static bool c_interval(const struct conf *c) { return c->host.interval_ms == 2500; }
static bool c_socket_dir(const struct conf *c) { return !strcmp(c->host.socket_dir, "/q"); }
static bool c_backend(const struct conf *c) { return c->host.backend == CONF_BACKEND_BOTH; }
static bool c_uri(const struct conf *c) { return !strcmp(c->host.libvirt_uri, "qemu+ssh://h/system?keyfile=/k"); }
static bool c_control(const struct conf *c) { return !strcmp(c->host.control_socket, "/c.sock"); }
static bool c_state(const struct conf *c) { return !strcmp(c->host.state_file, "/s.json"); }
static bool c_budget(const struct conf *c) { return c->host.budget_bytes == 3 * GIB; }
static bool c_cgroup(const struct conf *c) { return !strcmp(c->host.cgroup, "/sys/fs/cgroup/m"); }
static bool c_reserve(const struct conf *c)
{
    return c->host.reserve.set && !c->host.reserve.is_pct && c->host.reserve.bytes == 512 * MIB;
}
static bool c_step(const struct conf *c) { return c->host.step_bytes == MIB; }
static bool c_policy(const struct conf *c) { return c->host.policy == POLICY_KIND_PROXMOX; }
static bool c_peer_budget(const struct conf *c) { return c->host.peer_budget; }
static bool c_idle_tax(const struct conf *c) { return c->host.idle_tax_pct == 99; }
static bool c_ksm(const struct conf *c) { return !c->host.ksm; }
static bool c_zswap(const struct conf *c) { return !c->host.zswap; }
static bool c_zswap_comp(const struct conf *c) { return !strcmp(c->host.zswap_compressor, "zstd"); }
static bool c_zswap_pool(const struct conf *c) { return c->host.zswap_max_pool_pct == 50; }
static bool c_zram(const struct conf *c) { return c->host.zram_bytes == 2 * GIB; }
static bool c_zram_alg(const struct conf *c) { return !strcmp(c->host.zram_algorithm, "lzo-rle"); }
static bool c_metrics(const struct conf *c) { return c->host.metrics_listen == NULL; }
static bool c_user(const struct conf *c)
{
    return c->host.qemu.n_uids == 2 && c->host.qemu.uids[0] == 0 && c->host.qemu.uids[1] == 4242;
}
static bool c_group(const struct conf *c) { return c->host.qemu.n_gids == 1 && c->host.qemu.gids[0] == 77; }
static bool c_min(const struct conf *c)
{
    return c->defaults.min.set && c->defaults.min.is_pct && c->defaults.min.pct == 10;
}
static bool c_max(const struct conf *c)
{
    return c->defaults.max.set && !c->defaults.max.is_pct && c->defaults.max.bytes == 8 * GIB;
}
static bool c_buffer(const struct conf *c) { return c->defaults.buffer_set && c->defaults.buffer_pct == 400; }
static bool c_shares(const struct conf *c) { return c->defaults.shares_set && c->defaults.shares == 1; }

static const struct key_case key_cases[] = {
    {"interval", "2500ms", c_interval},      {"socket_dir", "/q", c_socket_dir},
    {"backend", "both", c_backend},          {"libvirt_uri", "qemu+ssh://h/system?keyfile=/k", c_uri},
    {"control_socket", "/c.sock", c_control}, {"state_file", "/s.json", c_state},
    {"budget", "3G", c_budget},              {"cgroup", "/sys/fs/cgroup/m", c_cgroup},
    {"reserve", "512M", c_reserve},          {"step", "1M", c_step},
    {"policy", "proxmox", c_policy},         {"idle_tax", "99%", c_idle_tax},
    {"peer_budget", "on", c_peer_budget},
    {"ksm", "false", c_ksm},                 {"zswap", "no", c_zswap},
    {"zswap_compressor", "zstd", c_zswap_comp}, {"zswap_max_pool", "50%", c_zswap_pool},
    {"zram", "2G", c_zram},                  {"zram_algorithm", "lzo-rle", c_zram_alg},
    {"metrics", "off", c_metrics},           {"qemu_user", "0, 4242", c_user},
    {"qemu_group", "77", c_group},           {"min", "10%", c_min},
    {"max", "8G", c_max},                    {"buffer", "400", c_buffer},
    {"shares", "1", c_shares},
};

static void test_every_key_has_a_case(void **state)
{
    assert_int_equal(conf_keys_count, ARRAY_SIZE(key_cases));
    for (size_t i = 0; i < conf_keys_count; i++) {
        bool found = false;
        for (size_t j = 0; j < ARRAY_SIZE(key_cases); j++)
            found |= strcmp(conf_keys[i].name, key_cases[j].key) == 0;
        if (!found)
            fail_msg("key %s has no case in key_cases", conf_keys[i].name);
    }
}

static void test_each_key_sets_its_field(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(key_cases); i++) {
        const struct conf_key *k = conf_key_find(key_cases[i].key);
        char text[256];
        struct conf *c;

        assert_non_null(k);
        snprintf(text, sizeof(text), "[%s]\n%s = %s\n", k->scope == CONF_SCOPE_HOST ? "host" : "defaults",
                 key_cases[i].key, key_cases[i].value);
        c = parse(text);
        if (!key_cases[i].check(c))
            fail_msg("%s = %s did not land in its field", key_cases[i].key, key_cases[i].value);
        conf_free(c);
    }
}

static void test_defaults(void **state)
{
    struct conf *c = conf_new_default();

    assert_non_null(c);
    assert_int_equal(c->host.policy, POLICY_KIND_BALLOOND);
    assert_int_equal(c->host.idle_tax_pct, 75);
    assert_true(c->host.ksm);
    assert_true(c->host.zswap);
    assert_string_equal(c->host.zswap_compressor, "lz4");
    assert_int_equal(c->host.zswap_max_pool_pct, 20);
    assert_int_equal(c->host.zram_bytes, 0);
    assert_string_equal(c->host.zram_algorithm, "lz4");
    assert_string_equal(c->host.metrics_listen, CONF_METRICS_LISTEN_DEFAULT);
    assert_int_equal(c->host.qemu.n_uids + c->host.qemu.n_gids, 0);
    conf_free(c);
}

static void test_merge(void **state)
{
    struct conf *c = parse("[defaults]\nmin = 1G\nbuffer = 30\n[vm a]\nmax = 50%\nshares = 7\n");
    struct conf_vm a = conf_vm_get(c, "a"), other = conf_vm_get(c, "b");

    assert_int_equal(a.min.bytes, GIB);
    assert_true(a.max.is_pct);
    assert_int_equal(a.max.pct, 50);
    assert_int_equal(a.buffer_pct, 30);
    assert_int_equal(a.shares, 7);
    assert_int_equal(other.shares, 1000);
    assert_int_equal(other.max.pct, 100);
    conf_free(c);
}

static void test_names(void **state)
{
    char buf[128];

    assert_string_equal(conf_keys_names(CONF_SCOPE_VM, buf, sizeof(buf)), "min, max, buffer, shares");
}

/* What a reload may not change: the sockets and files bound at start, and
 * the reclaim cascade, which reads its settings once. */
static void test_reloadable(void **state)
{
    static const char *const fixed[] = {"backend", "libvirt_uri", "control_socket", "state_file", "ksm", "zswap",
                                        "zswap_compressor", "zswap_max_pool", "zram",
                                        "zram_algorithm", "metrics"};

    for (size_t i = 0; i < conf_keys_count; i++) {
        bool want = true;
        for (size_t j = 0; j < ARRAY_SIZE(fixed); j++)
            if (strcmp(conf_keys[i].name, fixed[j]) == 0)
                want = false;
        if (conf_keys[i].reloadable != want)
            fail_msg("%s: reloadable %d", conf_keys[i].name, conf_keys[i].reloadable);
    }
}

static void test_keep_running(void **state)
{
    struct conf *run = parse("[host]\nmetrics = 127.0.0.1:1\nksm = off\ninterval = 2s\n");
    struct conf *next = parse("[host]\nmetrics = off\nstate_file = /x\nzram = 1G\ninterval = 3s\n"
                              "zram_algorithm = zstd\n");
    char changed[256];

    assert_int_equal(conf_keep_running(run, next, changed, sizeof(changed)), 0);
    assert_string_equal(changed, "state_file, ksm, zram, zram_algorithm, metrics");
    assert_string_equal(next->host.metrics_listen, "127.0.0.1:1");
    assert_string_equal(next->host.state_file, "/var/lib/balloond/state.json");
    assert_false(next->host.ksm);
    assert_int_equal(next->host.zram_bytes, 0);
    assert_string_equal(next->host.zram_algorithm, "lz4");
    assert_int_equal(next->host.interval_ms, 3000);  /* reloadable: the new value */
    assert_int_equal(conf_keep_running(run, next, changed, sizeof(changed)), 0);
    assert_string_equal(changed, "");
    conf_free(run);
    conf_free(next);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_key_has_a_case),
        cmocka_unit_test(test_each_key_sets_its_field),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_reloadable),
        cmocka_unit_test(test_keep_running),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
