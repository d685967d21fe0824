/* replay_main.c - run a libFuzzer target over files without libFuzzer.
 *
 * Usage: fuzz-replay/<target> FILE|DIR...  Each file is fed once to
 * LLVMFuzzerTestOneInput. Ordinary and sanitizer builds use this to replay the
 * corpora in CI; a crash or sanitizer report fails the run. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    size_t cap = 1 << 16, n = 0, r;
    uint8_t *p = malloc(cap);
    while (p && (r = fread(p + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            uint8_t *bigger = realloc(p, cap *= 2);
            if (!bigger)
                free(p);
            p = bigger;
        }
    }
    fclose(f);
    /* Copy to an exact-size buffer so ASan catches reads past the end. */
    uint8_t *exact = p ? malloc(n ? n : 1) : NULL;
    if (!exact) {
        fprintf(stderr, "%s: out of memory reading the input\n", path);
        free(p);
        return 1;
    }
    memcpy(exact, p, n);
    free(p);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int run_path(const char *path, size_t *count)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*count)++;
        return run_file(path);
    }
    DIR *d = opendir(path);
    if (!d) {
        perror(path);
        return 1;
    }
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
        rc |= run_path(sub, count);
    }
    closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    int rc = 0;
    for (int i = 1; i < argc; i++)
        rc |= run_path(argv[i], &count);
    fprintf(stderr, "replayed %zu inputs\n", count);
    return rc;
}
