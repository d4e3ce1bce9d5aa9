/* fixture.h: fixture files and writable fixture trees for the unit tests.
 * Fixtures live under FIXTURES, by default tests/fixtures relative to the
 * repo root (where make unit runs the tests). The helpers fail the test
 * that calls them on any error. */
#pragma once
#include <stdint.h>
#include <systemd/sd-event.h>

/* FIXTURES/group/rel; the last four returned stay valid. */
const char *fixture_path(const char *group, const char *rel);
/* A file's text, in a buffer the next call reuses (64 KiB at most). */
char *fixture_slurp(const char *path);
/* Writes content to path, truncating it. */
void fixture_put(const char *path, const char *content);

/* A writable copy of a fixture directory, in a fresh directory under /tmp. */
#define FIXTURE_TREE_MAX 64
void fixture_tree_copy(const char *src_dir, const char *prefix, char root[FIXTURE_TREE_MAX]);
void fixture_tree_rm(const char *root);

/* A listening unix socket at path (a stale file is replaced), for a test
 * that plays the peer of the code under test. Returns its descriptor. */
int fixture_listen(const char *path);

/* Runs ev's loop for ms milliseconds (its callbacks fire as they come). */
void fixture_run_loop(sd_event *ev, uint64_t ms);
