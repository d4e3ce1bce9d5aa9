/* fuzz_conf: the config parser (libinih and every key's value parser),
 * then what the daemon does with a parsed config: each VM's settings
 * resolved against sizes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "util.h"

const char *fuzz_name = "conf";

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
