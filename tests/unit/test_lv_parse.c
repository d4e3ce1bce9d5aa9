/* The libvirt backend's readers (lv_parse.h) on literals: a bulk stats
 * record as virConnectGetAllDomainStats gives it (and one a broken or
 * hostile libvirtd could give), a domain's state words, the XML facts
 * that leave a domain alone, and QEMU's command line. */
#include <errno.h>
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

/* A live XML as libvirt 9.0 formats a domain with 320 MiB of boot RAM,
 * a 1 GiB virtio-mem device of which 128 MiB were asked and 126 are
 * plugged (the guest's answer), and a balloon with free page reporting. */
#define VMEM_ELEM                                                                                          \
    "<memory model='virtio-mem'>\n"                                                                        \
    "      <target>\n"                                                                                     \
    "        <size unit='KiB'>1048576</size>\n"                                                            \
    "        <node>0</node>\n"                                                                             \
    "        <block unit='KiB'>2048</block>\n"                                                             \
    "        <requested unit='KiB'>131072</requested>\n"                                                  \
    "        <current unit='KiB'>129024</current>\n"                                                       \
    "      </target>\n"                                                                                    \
    "      <alias name='virtiomem0'/>\n"                                                                   \
    "      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>\n"                 \
    "    </memory>"
static const char vmem_domain[] =
    "<domain type='qemu' id='1'>\n  <name>vm</name>\n"
    "  <maxMemory slots='1' unit='KiB'>1376256</maxMemory>\n"
    "  <memory unit='KiB'>1376256</memory>\n  <currentMemory unit='KiB'>327680</currentMemory>\n"
    "  <cpu><numa><cell id='0' cpus='0' memory='327680' unit='KiB'/></numa></cpu>\n"
    "  <devices>\n    <memballoon model='virtio' freePageReporting='on'>\n"
    "      <stats period='1'/>\n      <alias name='balloon0'/>\n    </memballoon>\n    " VMEM_ELEM
    "\n  </devices>\n</domain>\n";

static void test_vmem_xml(void **state)
{
    struct lv_xml_facts f;
    const struct vmem_obs *v = &f.vmem.v;

    lv_xml_read(vmem_domain, &f);
    assert_true(f.free_page_reporting);
    assert_int_equal(f.balloon, LV_BALLOON_VIRTIO);
    assert_true(v->present);
    assert_string_equal(f.vmem.bad, "");
    assert_string_equal(f.vmem.alias, "virtiomem0");
    assert_string_equal(f.vmem.elem, VMEM_ELEM);
    assert_int_equal(v->max_bytes, 1024ULL << 20);
    assert_int_equal(v->block_bytes, 2ULL << 20);
    assert_int_equal(v->requested_bytes, 128ULL << 20);
    assert_int_equal(v->size_bytes, 126ULL << 20);
    assert_int_equal(v->base_bytes, 320ULL << 20); /* <memory> less the device */
    assert_null(lv_xml_unsuitable(&f));

    /* virtio-mem alone (no balloon), units other than KiB, no <current> yet. */
    lv_xml_read("<domain><memory unit='GiB'>2</memory><devices><memballoon model='none'/>"
                "<memory model='virtio-mem'><target><size unit='M'>1024</size><block unit='MiB'>2</block>"
                "<requested unit='bytes'>0</requested></target><alias name='vm1'/></memory></devices></domain>",
                &f);
    assert_true(v->present);
    assert_int_equal(v->base_bytes, 1024ULL << 20);
    assert_int_equal(v->size_bytes, 0);
    assert_null(lv_xml_unsuitable(&f)); /* driven without a balloon */
    /* No virtio-mem: nothing, and a dimm is not taken for one. */
    lv_xml_read("<domain><memory unit='KiB'>1048576</memory><devices><memory model='dimm'><target>"
                "<size unit='KiB'>524288</size></target><alias name='dimm0'/></memory></devices></domain>", &f);
    assert_false(v->present);
    assert_string_equal(f.vmem.bad, "");
}

/* A broken or hostile libvirtd: the device is left alone, with a reason. */
static void test_vmem_xml_hostile(void **state)
{
#define DOM(mem, dev) "<domain><memory unit='KiB'>" mem "</memory><devices>" dev "</devices></domain>"
#define DEV(target, alias) "<memory model='virtio-mem'><target>" target "</target>" alias "</memory>"
#define TGT(size, block, req) "<size unit='KiB'>" size "</size><block unit='KiB'>" block "</block>" \
                              "<requested unit='KiB'>" req "</requested>"
    static const struct {
        const char *xml;
        bool anon;
        const char *bad; /* a word of the reason; NULL: no device, no reason */
    } cases[] = {
        {DOM("1376256", DEV(TGT("1048576", "2048", "0"), "")), true, NULL},          /* no alias */
        {DOM("1376256", DEV(TGT("1048576", "3000", "0"), "<alias name='m'/>")), false, "add up"},
        {DOM("1376256", DEV(TGT("1048576", "2048", "2097152"), "<alias name='m'/>")), false, "add up"},
        {DOM("1024", DEV(TGT("1048576", "2048", "0"), "<alias name='m'/>")), false, "add up"},
        {DOM("1376256", DEV(TGT("99999999999999999999", "2048", "0"), "<alias name='m'/>")), false, "readable"},
        {DOM("1376256", DEV(TGT("-5", "2048", "0"), "<alias name='m'/>")), false, "readable"},
        {DOM("1376256", DEV("<size unit='parsec'>1</size><block>2048</block><requested>0</requested>",
                            "<alias name='m'/>")), false, "readable"},
        {DOM("1376256", DEV("<size>1048576</size><block>2048</block>", "<alias name='m'/>")), false, "readable"},
        {"<memory model='virtio-mem'><target><size>1048576</size><block>2048</block><requested>0</requested>"
         "</target><alias name='m'/></memory>", false, "add up"},                    /* no <memory> total */
        {DOM("1376256", DEV(TGT("1048576", "2048", "0"), "<alias name='a&apos;b'/>")), false, "XML specials"},
        {DOM("1376256", "<memory model='virtio-mem'/>"), false, NULL},
        {DOM("1376256", "<memory model='virtio-mem'><target><size>1"), false, NULL},  /* truncated */
    };
    struct lv_xml_facts f;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lv_xml_read(cases[i].xml, &f);
        assert_false(f.vmem.v.present);
        assert_int_equal(f.vmem.anon, cases[i].anon);
        if (cases[i].bad)
            assert_non_null(strstr(f.vmem.bad, cases[i].bad));
        else
            assert_string_equal(f.vmem.bad, "");
    }
    /* An element too long to send back is not driven. */
    static char big[4096];
    int n = snprintf(big, sizeof(big), "<domain><memory>1376256</memory><devices><memory model='virtio-mem'>"
                     "<target><size>1048576</size><block>2048</block><requested>0</requested></target>"
                     "<alias name='m'/><metadata>");
    memset(big + n, 'x', 2500);
    snprintf(big + n + 2500, sizeof(big) - n - 2500, "</metadata></memory></devices></domain>");
    lv_xml_read(big, &f);
    assert_false(f.vmem.v.present);
    assert_non_null(strstr(f.vmem.bad, "longer"));
}

static void test_vmem_update_xml(void **state)
{
    char buf[LV_VMEM_ELEM_MAX];
    struct lv_xml_facts f;

    lv_xml_read(vmem_domain, &f);
    assert_int_equal(lv_vmem_update_xml(f.vmem.elem, 512ULL << 20, buf, sizeof(buf)), 0);
    assert_non_null(strstr(buf, "<requested unit='KiB'>524288</requested>"));
    assert_null(strstr(buf, "<current"));       /* output only */
    assert_null(strstr(buf, "131072"));
    assert_non_null(strstr(buf, "<alias name='virtiomem0'/>"));
    assert_non_null(strstr(buf, "<address type='pci' domain='0x0000' bus='0x00' slot='0x03'"));
    assert_non_null(strstr(buf, "<size unit='KiB'>1048576</size>"));
    /* What is sent reads back as the same device, asking for 512 MiB. */
    char dom[4096];
    snprintf(dom, sizeof(dom), "<domain><memory unit='KiB'>1376256</memory><devices>%s</devices></domain>", buf);
    lv_xml_read(dom, &f);
    assert_true(f.vmem.v.present);
    assert_int_equal(f.vmem.v.requested_bytes, 512ULL << 20);
    /* <current> before <requested>, and no <requested> at all. */
    assert_int_equal(lv_vmem_update_xml("<memory model='virtio-mem'><target><current>4</current><size>8</size>"
                                        "<requested>2</requested></target></memory>", 4ULL << 20, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "<memory model='virtio-mem'><target><size>8</size>"
                             "<requested unit='KiB'>4096</requested></target></memory>");
    assert_int_equal(lv_vmem_update_xml("<memory model='virtio-mem'><target><size>8</size></target></memory>",
                                        2ULL << 20, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "<memory model='virtio-mem'><target><size>8</size>"
                             "<requested unit='KiB'>2048</requested></target></memory>");
    assert_int_equal(lv_vmem_update_xml("<memory model='dimm'><target/></memory>", 0, buf, sizeof(buf)), -EBADMSG);
    assert_int_equal(lv_vmem_update_xml("<memory model='virtio-mem'>", 0, buf, sizeof(buf)), -EBADMSG);
    assert_int_equal(lv_vmem_update_xml(VMEM_ELEM, 0, buf, 64), -ENOSPC);
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
        cmocka_unit_test(test_vmem_xml),     cmocka_unit_test(test_vmem_xml_hostile),
        cmocka_unit_test(test_vmem_update_xml),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
