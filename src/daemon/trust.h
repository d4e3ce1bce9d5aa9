/* trust.h: who may serve a QMP socket that balloond speaks to.
 *
 * A QMP socket gives whoever serves it a say over what balloond reports
 * and does (sizes, stats, the pid whose RSS is charged). Only root and
 * the users and groups QEMU runs as ([host] qemu_user, qemu_group) are
 * trusted: the socket file's owner is checked before connecting, the
 * serving process (SO_PEERCRED) after. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define TRUST_IDS_MAX 8

struct trust_ids {
    unsigned n_uids, n_gids;
    uid_t uids[TRUST_IDS_MAX];
    gid_t gids[TRUST_IDS_MAX];
};

/* "libvirt-qemu qemu" or "64055, 107": user (or, with groups, group)
 * names or numbers, separated by spaces or commas, into ids. On error
 * returns -EINVAL (unknown name) or -E2BIG, and names the culprit in bad. */
int trust_parse(const char *list, bool groups, struct trust_ids *ids, char *bad, size_t bad_len);
/* Root, or a listed user, or a listed group. */
bool trust_ok(const struct trust_ids *ids, uid_t uid, gid_t gid);
/* "uid 1001 (mallory)": for messages. Returns buf. */
const char *trust_describe(uid_t uid, char *buf, size_t len);

/* Socket names refused, so that each is logged once while it stays. */
struct trust_refused {
    char **names;
    bool *seen;
    size_t n;
};
/* Marks name as seen in this scan; true when it was not refused before
 * (log it now). */
bool trust_refused_note(struct trust_refused *r, const char *name);
/* At the end of a scan: forgets the names not seen in it. */
void trust_refused_sweep(struct trust_refused *r);
void trust_refused_free(struct trust_refused *r);
