/* lv_vmem.c: the libvirt backend's side of virtio-mem (see lv_priv.h and
 * core/vmem.h): the same split as QMP's, through libvirt. The requested
 * size is changed with virDomainUpdateDeviceFlags(VIR_DOMAIN_AFFECT_LIVE)
 * on the device's own <memory model='virtio-mem'> element with a new
 * <requested> (libvirt's formatdomain: only requested may change on a
 * live device; it finds the device by alias and address). */
#include "lv_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "observe.h"

void lv_vmem_free(struct session *s)
{
    free(s->vmem);
    s->vmem = NULL;
}

void lv_vmem_setup(struct session *s, const struct lv_xml_facts *f)
{
    const struct lv_vmem_dev *d = &f->vmem;

    if (d->bad[0])
        log_warn("vm %s: %s; virtio-mem left alone", s->name, d->bad);
    if (d->anon && !d->v.present)
        log_warn("vm %s: a virtio-mem device has no alias, so libvirt cannot address it; left alone", s->name);
    lv_vmem_free(s);
    s->link->obs.vmem = (struct vmem_obs){0};
    if (!d->v.present)
        return;
    s->vmem = malloc(sizeof(*s->vmem));
    if (!s->vmem)
        return;
    *s->vmem = *d;
    s->link->obs.vmem = d->v;
    s->link->size_bytes = vmem_size_bytes(&d->v);
    s->link->obs.size_bytes = s->link->size_bytes;
}

uint64_t lv_vmem_balloon_share(const struct session *s, uint64_t current_bytes)
{
    const struct vmem_obs *v = &s->link->obs.vmem;

    if (!v->present)
        return current_bytes;
    return min_u64(current_bytes > v->size_bytes ? current_bytes - v->size_bytes : 0, v->base_bytes);
}

void lv_vmem_observe(struct session *s)
{
    struct vm_observed *o = &s->link->obs;

    if (s->link->conn != VM_READY)
        return;
    if (o->has_balloon && !s->have_balloon_bytes) {
        observe_no_actual(o);
        return;
    }
    observe_actual(o, vmem_logical_bytes(&o->vmem, o->has_balloon, s->balloon_bytes), now_ms());
}

void lv_vmem_on_size(struct session *s, const char *alias, unsigned long long size_kib)
{
    struct vmem_obs *v = &s->link->obs.vmem;

    if (!s->vmem || !v->present || strcmp(alias, s->vmem->alias) != 0)
        return;
    if (size_kib > v->max_bytes / 1024) {
        log_limited(&s->lv->rl, LOG_WARNING, "vm %s: libvirt says virtio-mem %s has %llu KiB plugged, above "
                    "its size; ignored", s->name, alias, size_kib);
        return;
    }
    v->size_bytes = size_kib * 1024;
    lv_vmem_observe(s);
}

/* ---- the live XML, again (the worker reads it) ----------------------------- */

struct refresh_job {
    struct lv *lv;
    virConnectPtr conn;
    char *name;
    struct lv_vmem_dev dev;
    bool read;
};

static void refresh_run(void *arg)
{
    struct refresh_job *j = arg;
    virDomainPtr dom = virDomainLookupByName(j->conn, j->name);
    char *xml = dom ? virDomainGetXMLDesc(dom, 0) : NULL;

    if (xml) {
        lv_xml_vmem_read(xml, &j->dev);
        j->read = true;
    }
    free(xml);
    if (dom)
        virDomainFree(dom);
}

static void refresh_done(void *arg)
{
    struct refresh_job *j = arg;
    struct session *s = lv_find(j->lv, j->name);
    struct vmem_obs *v;

    if (s && j->conn == j->lv->conn) {
        s->vmem_refresh_inflight = false;
        v = &s->link->obs.vmem;
        /* The same device only: its plugged and requested sizes. */
        if (j->read && s->vmem && j->dev.v.present && strcmp(j->dev.alias, s->vmem->alias) == 0 &&
            j->dev.v.max_bytes == v->max_bytes && j->dev.v.block_bytes == v->block_bytes) {
            v->size_bytes = j->dev.v.size_bytes;
            v->requested_bytes = j->dev.v.requested_bytes;
            lv_vmem_observe(s);
        }
    }
    free(j->name);
    free(j);
}

void lv_vmem_refresh(struct session *s)
{
    struct refresh_job *j;

    if (!s->vmem || s->vmem_refresh_inflight || s->lv->state != LV_UP || !(j = calloc(1, sizeof(*j))))
        return;
    j->lv = s->lv;
    j->conn = s->lv->conn;
    j->name = strdup(s->name);
    if (!j->name || lv_worker_submit(s->lv->w, refresh_run, refresh_done, j) < 0) {
        free(j->name);
        free(j);
        return;
    }
    s->vmem_refresh_inflight = true;
}

int lv_vmem_request_run(virDomainPtr dom, const char *elem, uint64_t requested_bytes, char *err, size_t len)
{
    char xml[LV_VMEM_ELEM_MAX + 64];
    int r = lv_vmem_update_xml(elem, requested_bytes, xml, sizeof(xml));

    if (r < 0) {
        snprintf(err, len, "cannot write the device's XML: %s", strerror(-r));
        return -1;
    }
    if (virDomainUpdateDeviceFlags(dom, xml, VIR_DOMAIN_AFFECT_LIVE) < 0) {
        snprintf(err, len, "virtio-mem requested %llu MiB: %s", (unsigned long long)(requested_bytes >> 20),
                 lv_error());
        return -1;
    }
    return 0;
}
