/* fdwatch.c: VMs not connected for want of descriptors (see fdwatch.h). */
#include "fdwatch.h"

#include <sys/resource.h>

#include "util.h"

bool fdwatch_is_news(size_t told, size_t now)
{
    size_t diff = now > told ? now - told : told - now;

    if (now == told)
        return false;
    if (now == 0 || told == 0)
        return true;
    return diff >= FDWATCH_RETELL_MIN && diff * 4 >= told;
}

void fdwatch_check(struct fdwatch *w, struct vm *const *vms, size_t n)
{
    size_t sockets = 0, starved = 0;
    struct rlimit rl = {0};

    for (size_t i = 0; i < n; i++) {
        if (vms[i]->ops != &backend_qmp)
            continue;
        sockets++;
        starved += vms[i]->link.out_of_fds;
    }
    if (!fdwatch_is_news(w->told, starved))
        return;
    if (starved == 0) {
        log_notice("descriptors: %zu QMP sockets, all connected again", sockets);
    } else {
        getrlimit(RLIMIT_NOFILE, &rl);
        log_warn("descriptors: %zu QMP sockets, %zu not connected: out of file descriptors "
                 "(RLIMIT_NOFILE %llu, %d kept for the host, state file, control socket and metrics); "
                 "raise LimitNOFILE",
                 sockets, starved, (unsigned long long)rl.rlim_cur, UTIL_FD_RESERVE_VMS);
    }
    w->told = starved;
}
