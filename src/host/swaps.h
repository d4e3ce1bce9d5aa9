/* swaps.h: /proc/swaps, parsed for the compression rung: which swap
 * devices exist (disk, other zram, ours), how full, at what priority. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* What /proc/swaps says. Sizes are bytes (the file counts KiB). */
struct swaps_info {
    unsigned disk_count;      /* swap partitions and files that are not zram */
    unsigned zram_count;      /* zram swap devices that are not ours */
    bool ours;                /* our zram device is swapped on */
    uint64_t used_bytes;      /* in use on all swap, ours included */
    uint64_t ours_size_bytes;
    uint64_t ours_used_bytes;
    int ours_priority;
    int max_other_priority;   /* meaningful when disk_count + zram_count > 0 */
};

/* our_name is the basename of our device ("zram1"), or NULL. 0 or -EINVAL
 * (a line cut short, a bad number, a missing header). */
int swaps_parse(const char *text, const char *our_name, struct swaps_info *out);
/* <proc_root>/swaps, parsed; a malformed file is logged with its path. */
int swaps_read(const char *proc_root, const char *our_name, struct swaps_info *out);
