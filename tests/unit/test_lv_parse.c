/* The libvirt backend's readers (lv_parse.h) on literals: a bulk stats
 * record as virConnectGetAllDomainStats gives it (and one a broken or
 * hostile libvirtd could give), a domain's state words, the XML facts
 * that leave a domain alone, and QEMU's command line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lv_parse.h"

#define KIB(n) ((uint64_t)(n) << 10)

static virTypedParameter ull(const char *field, unsigned long long v)
{
    virTypedParameter p = {.type = VIR_TYPED_PARAM_ULLONG};

    snprintf(p.field, sizeof(p.field), "%s", field);
    p.value.ul = v;
    return p;
}

static virTypedParameter i32(const char *field, int v)
{
    virTypedParameter p = {.type = VIR_TYPED_PARAM_INT};

    snprintf(p.field, sizeof(p.field), "%s", field);
    p.value.i = v;
    return p;
}

/* As `virsh domstats --state --balloon` printed it for a running test guest. */
static void test_stats_record(void **state)
{
    virTypedParameter p[] = {
        i32("state.state", VIR_DOMAIN_RUNNING), i32("state.reason", 1),
        ull("balloon.current", 151936), ull("balloon.maximum", 524288),
        ull("balloon.swap_in", 0), ull("balloon.swap_out", 0),
        ull("balloon.major_fault", 3), ull("balloon.minor_fault", 77768),
        ull("balloon.unused", 67356), ull("balloon.available", 96064),
        ull("balloon.usable", 66984), ull("balloon.last-update", 1796184694),
        ull("balloon.disk_caches", 2976), ull("balloon.rss", 250316),
    };
    struct lv_dom_stats s;

    lv_stats_read("lv1", p, (int)(sizeof(p) / sizeof(p[0])), &s);
    assert_string_equal(s.name, "lv1");
    assert_int_equal(s.state, VIR_DOMAIN_RUNNING);
    assert_true(s.have_current && s.have_maximum);
    assert_int_equal(s.current_bytes, KIB(151936));
    assert_int_equal(s.maximum_bytes, KIB(524288));
    assert_int_equal(s.rss_bytes, KIB(250316));
    assert_int_equal(s.guest.last_update_s, 1796184694);
    assert_int_equal(s.guest.total_bytes, KIB(96064));  /* available: MemTotal */
    assert_int_equal(s.guest.avail_bytes, KIB(66984));  /* usable: MemAvailable */
    assert_int_equal(s.guest.free_bytes, KIB(67356));   /* unused: MemFree */
    assert_int_equal(s.guest.disk_caches_bytes, KIB(2976));
    assert_int_equal(s.guest.major_faults, 3);          /* a count, not KiB */
    assert_int_equal(s.guest.oom_kills, QMP_UNKNOWN);   /* libvirt 9.0 has none */
    assert_string_equal(s.bad, "");
}

/* No driver in the guest: libvirt gives current and maximum only. */
static void test_stats_no_driver(void **state)
{
    virTypedParameter p[] = {
        i32("state.state", VIR_DOMAIN_RUNNING), ull("balloon.current", 524288),
        ull("balloon.maximum", 524288),
    };
    struct lv_dom_stats s;

    lv_stats_read("d", p, 3, &s);
    assert_int_equal(s.guest.last_update_s, 0);
    assert_int_equal(s.guest.total_bytes, QMP_UNKNOWN);
    assert_int_equal(s.guest.avail_bytes, QMP_UNKNOWN);
}

/* Absurd values are dropped and named; wrong types and negatives ignored. */
static void test_stats_hostile(void **state)
{
    virTypedParameter p[] = {
        ull("balloon.maximum", ~0ULL), ull("balloon.current", 1ULL << 60),
        ull("balloon.available", 1ULL << 62), i32("balloon.usable", -5),
        i32("state.state", 99), ull("balloon.nonsense", 7),
    };
    virTypedParameter str = {.type = VIR_TYPED_PARAM_STRING};
    struct lv_dom_stats s;

    lv_stats_read(NULL, p, 6, &s);
    assert_string_equal(s.name, "");
    assert_false(s.have_maximum);
    assert_false(s.have_current);
    assert_int_equal(s.guest.total_bytes, QMP_UNKNOWN);
    assert_int_equal(s.guest.avail_bytes, QMP_UNKNOWN);
    assert_int_equal(s.state, -1);
    assert_non_null(strstr(s.bad, "balloon.maximum"));
    snprintf(str.field, sizeof(str.field), "balloon.current");
    str.value.s = "512";
    lv_stats_read("d", &str, 1, &s);
    assert_false(s.have_current);
    lv_stats_read("d", NULL, 5, &s);
    assert_false(s.have_maximum);
}

static void test_state_words(void **state)
{
    assert_string_equal(lv_state_str(VIR_DOMAIN_RUNNING, 1), "running");
    assert_string_equal(lv_state_str(VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_USER), "paused");
    assert_string_equal(lv_state_str(VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION), "migrating");
    assert_string_equal(lv_state_str(VIR_DOMAIN_CRASHED, 0), "crashed");
    assert_string_equal(lv_state_str(-1, -1), "unknown");
}

/* Each fact, and why it leaves the domain alone. */
static void test_xml(void **state)
{
    static const struct {
        const char *xml;
        enum lv_balloon balloon;
        int period;
        const char *why; /* a word of lv_xml_unsuitable(), or NULL */
    } cases[] = {
        {"<domain><devices><memballoon model='virtio'>\n<stats period='1'/>\n"
         "<address type='pci'/></memballoon></devices></domain>", LV_BALLOON_VIRTIO, 1, NULL},
        {"<domain><devices><memballoon model='virtio'>\n<address type='pci'/>\n</memballoon>"
         "<stats period='5'/></devices></domain>", LV_BALLOON_VIRTIO, 0, NULL},
        {"<domain><devices><memballoon model='virtio-non-transitional'/></devices></domain>",
         LV_BALLOON_VIRTIO, 0, NULL},
        {"<domain><devices><memballoon model='none'/></devices></domain>", LV_BALLOON_NONE, 0, "no balloon"},
        {"<domain><devices></devices></domain>", LV_BALLOON_NONE, 0, "no balloon"},
        {"<domain><devices><memballoon model='xen'/></devices></domain>", LV_BALLOON_OTHER, 0, "not a virtio"},
        {"<domain><memoryBacking>\n<locked/>\n</memoryBacking><devices><memballoon model='virtio'/>"
         "</devices></domain>", LV_BALLOON_VIRTIO, 0, "locked"},
        {"<domain><memoryBacking><hugepages/></memoryBacking><devices><memballoon model='virtio'/>"
         "</devices></domain>", LV_BALLOON_VIRTIO, 0, "hugepages"},
        {"<domain><devices><hostdev mode='subsystem' type='pci'/><memballoon model='virtio'/>"
         "</devices></domain>", LV_BALLOON_VIRTIO, 0, "VFIO"},
        {"<domain><memoryBacking><source type='memfd'/></memoryBacking><devices>"
         "<memballoon model='virtio'/></devices></domain>", LV_BALLOON_VIRTIO, 0, NULL},
        {"<memballoon model='virtio", LV_BALLOON_VIRTIO, 0, NULL}, /* truncated: no '>' */
        {"<domain><devices><memballoon model='virtio' deflate='on'><stats period='-3'/></memballoon>",
         LV_BALLOON_VIRTIO, 0, NULL},
    };
    struct lv_xml_facts f;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lv_xml_read(cases[i].xml, &f);
        const char *why = lv_xml_unsuitable(&f);
        if (i == 10) { /* the truncated one has no element at all */
            assert_int_equal(f.balloon, LV_BALLOON_NONE);
            continue;
        }
        assert_int_equal(f.balloon, cases[i].balloon);
        assert_int_equal(f.stats_period, cases[i].period);
        if (cases[i].why)
            assert_non_null(why && strstr(why, cases[i].why));
        else
            assert_null(why);
    }
    lv_xml_read("<domain><devices><memballoon model='virtio' deflate='on'/></devices></domain>", &f);
    assert_true(f.deflate_on_oom);
    lv_xml_read(NULL, &f);
    assert_int_equal(f.balloon, LV_BALLOON_NONE);
}

static void test_cmdline(void **state)
{
    static const char qemu[] = "/usr/bin/qemu-system-x86_64\0-name\0guest=lv1,debug-threads=on\0-S\0";
    static const char plain[] = "qemu\0-name\0lv1\0";
    static const char other[] = "qemu\0-name\0guest=lv10,debug-threads=on\0";
    static const char cut[] = "qemu\0-name";

    assert_true(lv_cmdline_is_domain(qemu, sizeof(qemu) - 1, "lv1"));
    assert_true(lv_cmdline_is_domain(plain, sizeof(plain) - 1, "lv1"));
    assert_false(lv_cmdline_is_domain(other, sizeof(other) - 1, "lv1"));
    assert_false(lv_cmdline_is_domain(cut, sizeof(cut) - 1, "lv1"));
    assert_false(lv_cmdline_is_domain(qemu, 10, "lv1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_record), cmocka_unit_test(test_stats_no_driver),
        cmocka_unit_test(test_stats_hostile), cmocka_unit_test(test_state_words),
        cmocka_unit_test(test_xml),          cmocka_unit_test(test_cmdline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
