/* command.h: the daemon's side of the control protocol (ctl.h): what
 * each balloonctl verb does to the manager and its VMs.
 *
 *   status                      the snapshot (report.h)
 *   reload                      the config file again
 *   vm-show   {vm}              one VM's row of the snapshot
 *   vm-set    {vm, settings}    "key=value" strings (min, max, buffer,
 *                               shares), checked by the config parser,
 *                               kept in the state file by name
 *   vm-target {vm, size}        pin a target: no automatic changes
 *   vm-auto   {vm}              unpin
 *   vm-pause  {vm} / vm-resume  leave the VM alone / manage it again
 *   events    {since, max}      the decision log after seq since */
#pragma once
#include <json-c/json.h>

#include "conf.h"

struct events;
struct state;
struct vm;

/* What the commands need of the daemon, and no more: the manager fills
 * it in (mgr.c), a test can fill it with a fixture. */
struct command_host {
    void *ctx;
    struct vm *(*find_vm)(void *ctx, const char *name);
    const struct conf *(*conf)(void *ctx);   /* the running one: reload replaces it */
    /* The snapshot (report.h), or only_vm's row of it (NULL: no such VM). */
    json_object *(*snapshot)(void *ctx, const char *only_vm);
    int (*reload)(void *ctx);                /* 0, or -EINVAL: the file is bad (logged) */
    struct state *state;                     /* the operator's settings are kept here */
    struct events *events;                   /* and each change is logged here */
};

/* Runs one request (protocol.h): the reply's "data", or NULL with *error
 * (malloc'ed, or NULL when out of memory). */
json_object *command_run(const struct command_host *h, const char *command, json_object *req,
                         char **error);
/* Parses a VM's settings lines ("min = 1G\n...") with the config file's
 * parser. 0, or -EINVAL with *error (malloc'ed) naming the problem. */
int command_parse_settings(const char *vm, const char *lines, struct conf_vm *out, char **error);
/* At attach: the operator's settings for this VM name, if any. */
void command_load_settings(struct state *st, struct vm *vm);
