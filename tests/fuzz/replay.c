/* replay.c: the regression side of the fuzz suite, built with gcc and
 * ASan/UBSan for make check (no clang needed). Feeds every file of
 * tests/fuzz/corpus/NAME/ and tests/fuzz/crashes/NAME/ (or the files and
 * directories given as arguments) to the harness's LLVMFuzzerTestOneInput
 * once; a crash is the sanitizer's abort. Prints cmocka's summary lines so
 * that tests/run.sh counts one test per harness. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
extern const char *fuzz_name;

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long len;

    if (!f)
        return -errno;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    buf = malloc(len > 0 ? (size_t)len : 1);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        fclose(f);
        return -EIO;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)len);
    free(buf);
    return 0;
}

/* Returns the number of inputs replayed from path (a file or a directory),
 * or -1 when a file cannot be read. */
static int replay_path(const char *path)
{
    struct stat st;
    struct dirent *de;
    DIR *d;
    int n = 0;

    if (stat(path, &st) < 0)
        return 0; /* no crashes/ directory: nothing to replay */
    if (!S_ISDIR(st.st_mode))
        return replay_file(path) == 0 ? 1 : -1;
    d = opendir(path);
    if (!d)
        return -1;
    while ((de = readdir(d))) {
        char p[4096];
        if (de->d_name[0] == '.' || strcmp(de->d_name, "README") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
        if (replay_file(p) < 0) {
            fprintf(stderr, "replay: cannot read %s\n", p);
            closedir(d);
            return -1;
        }
        n++;
    }
    closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    char corpus[256], crashes[256];
    int n = 0, r;

    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    printf("[==========] Running 1 test(s).\n[ RUN      ] fuzz_%s replay\n", fuzz_name);
    snprintf(corpus, sizeof(corpus), "tests/fuzz/corpus/%s", fuzz_name);
    snprintf(crashes, sizeof(crashes), "tests/fuzz/crashes/%s", fuzz_name);
    if (argc > 1) {
        for (int i = 1; i < argc && n >= 0; i++)
            n = (r = replay_path(argv[i])) < 0 ? -1 : n + r;
    } else {
        r = replay_path(corpus);
        n = r < 0 ? -1 : n + r;
        r = n < 0 ? -1 : replay_path(crashes);
        n = r < 0 ? -1 : n + r;
    }
    if (n <= 0) {
        printf("  no inputs replayed (run from the source tree)\n[  FAILED  ] 1 test(s), listed below:\n"
               "[  FAILED  ] fuzz_%s replay\n", fuzz_name);
        return 1;
    }
    printf("  %d inputs replayed without a crash\n[       OK ] fuzz_%s replay\n"
           "[  PASSED  ] 1 test(s).\n", n, fuzz_name);
    return 0;
}
