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

struct mgr;
struct state;
struct vm;

json_object *command_run(struct mgr *m, const char *command, json_object *req, char **error);
/* Parses a VM's settings lines ("min = 1G\n...") with the config file's
 * parser. 0, or -EINVAL with *error (malloc'ed) naming the problem. */
int command_parse_settings(const char *vm, const char *lines, struct conf_vm *out, char **error);
/* At attach: the operator's settings for this VM name, if any. */
void command_load_settings(struct state *st, struct vm *vm);
