/* fuzz_conf: the config parser (libinih and every key's value parser),
 * then what the daemon does with a parsed config: each VM's settings
 * resolved against sizes. */
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "util.h"

const char *fuzz_name = "conf";

/* The fuzz process's own user and group database, over libc's (and
 * ASan's weak interceptors): qemu_user and qemu_group names went through
 * NSS, about 7 syscalls a name (nsswitch.conf, /etc/passwd; a third of an
 * input's system time), and the answers depended on the machine. */
static const struct {
    const char *name;
    unsigned id;
} fuzz_ids[] = {{"root", 0}, {"qemu", 107}, {"libvirt-qemu", 64055}, {"kvm", 993}, {"nobody", 65534}};

struct passwd *getpwnam(const char *name)
{
    static struct passwd pw;

    for (size_t i = 0; i < ARRAY_SIZE(fuzz_ids); i++)
        if (strcmp(name, fuzz_ids[i].name) == 0) {
            pw = (struct passwd){(char *)fuzz_ids[i].name, "x", fuzz_ids[i].id, fuzz_ids[i].id, "", "/", "/bin/false"};
            return &pw;
        }
    return NULL;
}

struct group *getgrnam(const char *name)
{
    static char *no_members[] = {NULL};
    static struct group gr;

    for (size_t i = 0; i < ARRAY_SIZE(fuzz_ids); i++)
        if (strcmp(name, fuzz_ids[i].name) == 0) {
            gr = (struct group){(char *)fuzz_ids[i].name, "x", fuzz_ids[i].id, no_members};
            return &gr;
        }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    char *error = NULL;
    struct conf *c;

    log_setup(LOG_EMERG, false);
    memcpy(text, data, size);
    text[size] = '\0';
    if (conf_parse_string("fuzz", text, &c, &error) == 0) {
        for (unsigned i = 0; i < c->n_vms; i++) {
            struct conf_vm base = conf_vm_get(c, c->vm_names[i]);
            struct conf_vm v = conf_vm_merge(&c->vms[i], &base);
            uint64_t max = conf_size_resolve(&v.max, 512ULL << 20);
            conf_size_resolve(&v.min, max);
            conf_size_resolve(&v.max, UINT64_MAX);
        }
        conf_free(c);
    } else if (!error) {
        __builtin_trap(); /* a bad config always says why */
    }
    free(error);
    free(text);
    return 0;
}
