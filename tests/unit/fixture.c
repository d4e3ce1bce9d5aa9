/* fixture.c: see fixture.h. */
#include "fixture.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "util.h"

const char *fixture_path(const char *group, const char *rel)
{
    static char bufs[4][PATH_MAX];
    static unsigned next;
    const char *root = getenv("FIXTURES");
    char *b = bufs[next++ % ARRAY_SIZE(bufs)];

    snprintf(b, PATH_MAX, "%s/%s/%s", root && *root ? root : "tests/fixtures", group, rel);
    return b;
}

char *fixture_slurp(const char *path)
{
    static char buf[65536];
    int n = read_file(path, buf, sizeof(buf));

    if (n < 0)
        fail_msg("%s: %s", path, strerror(-n));
    return buf;
}

void fixture_put(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");

    if (!f)
        fail_msg("%s: cannot open for writing", path);
    fputs(content, f);
    assert_int_equal(fclose(f), 0);
}

void fixture_tree_copy(const char *src_dir, const char *prefix, char root[FIXTURE_TREE_MAX])
{
    char cmd[2 * PATH_MAX];

    snprintf(root, FIXTURE_TREE_MAX, "/tmp/%s.XXXXXX", prefix);
    assert_non_null(mkdtemp(root));
    snprintf(cmd, sizeof(cmd), "cp -a '%s/.' '%s'", src_dir, root);
    assert_int_equal(system(cmd), 0);
}

void fixture_tree_rm(const char *root)
{
    char cmd[FIXTURE_TREE_MAX + 16];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

int fixture_listen(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;

    assert_true(strlen(path) < sizeof(sa.sun_path));
    strcpy(sa.sun_path, path);
    unlink(path);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 1), 0);
    return fd;
}

void fixture_run_loop(sd_event *ev, uint64_t ms)
{
    uint64_t end = now_ms() + ms;

    for (uint64_t t = now_ms(); t < end; t = now_ms())
        assert_true(sd_event_run(ev, (end - t) * 1000) >= 0);
}
