/* fuzz_proc: the /proc, cgroup and sysfs parsers, on a file tree of
 * their own (every reader takes its root or path): the first byte picks
 * the file, the rest is its content. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"
#include "ksm.h"
#include "swaps.h"
#include "zram.h"
#include "util.h"

const char *fuzz_name = "proc";

static char root[64];

static void put(const char *name, const uint8_t *data, size_t size)
{
    char p[160];
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", root, name);
    f = fopen(p, "wb");
    if (!f || fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
}

static void cleanup(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_proc: could not remove %s\n", root);
}

static void setup(void)
{
    char p[160];

    /* tmpfs: on ext4, a file truncated and written again is flushed to
     * disk on close (auto_da_alloc): 57 s of wall time for 3 s of CPU. */
    snprintf(root, sizeof(root), "/dev/shm/balloond-fuzz-proc.%d", getpid());
    mkdir(root, 0700);
    snprintf(p, sizeof(p), "%s/1", root);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/cg", root);
    mkdir(p, 0700);
    atexit(cleanup);
    log_setup(LOG_EMERG, false);
}

static void parse_text(unsigned which, const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    struct swaps_info sw;
    struct zram_mm_stat mm;

    memcpy(text, data, size);
    text[size] = '\0';
    if (which == 0)
        swaps_parse(text, "zram0", &sw);
    else
        zram_parse_mm_stat(text, &mm);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char p[160];
    unsigned which;

    if (!root[0])
        setup();
    if (size == 0)
        return 0;
    which = data[0] % 8;
    data++, size--;
    switch (which) {
    case 0: case 1: parse_text(which, data, size); break;
    case 2: {
        struct host_meminfo mi;
        put("meminfo", data, size);
        snprintf(p, sizeof(p), "%s/meminfo", root);
        host_read_meminfo(p, &mi);
        break;
    }
    case 3: {
        struct host_psi psi;
        put("psi", data, size);
        snprintf(p, sizeof(p), "%s/psi", root);
        host_read_psi(p, &psi);
        break;
    }
    case 4: {
        struct host_vmstat vs;
        put("vmstat", data, size);
        snprintf(p, sizeof(p), "%s/vmstat", root);
        host_read_vmstat(p, &vs);
        break;
    }
    case 5: {
        uint64_t rss;
        put("1/statm", data, size);
        host_read_proc_rss(root, 1, &rss);
        break;
    }
    case 6: case 7: {
        uint64_t merging;
        int64_t profit;
        put(which == 6 ? "1/ksm_stat" : "1/ksm_merging_pages", data, size);
        ksm_proc_savings(root, 1, &merging, &profit);
        break;
    }
    }
    return 0;
}
