#include "test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/aws/crypto.h"
#include "../../src/util/alloc.h"

const char *testdata_dir(void)
{
    static char *dir;
    if (dir)
        return dir;
    const char *env = getenv("BROCK_TESTDATA");
    const char *cands[] = {env, "../shared/testdata", "../../shared/testdata"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        struct stat st;
        if (cands[i] && *cands[i] && stat(cands[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            dir = realpath(cands[i], NULL);
            if (dir)
                return dir;
        }
    }
    fprintf(stderr, "test: cannot find the shared test vectors; set BROCK_TESTDATA to "
                    "the shared/testdata folder (tried $BROCK_TESTDATA and ../shared/testdata)\n");
    printf("not ok 1 - shared test vectors not found\n");
    exit(1);
}

char *testdata_path(const char *rel)
{
    const char *d = testdata_dir();
    size_t n = strlen(d) + strlen(rel) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", d, rel);
    return p;
}

char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *p = xmalloc(cap);
    size_t r;
    while ((r = fread(p + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0) {
            cap *= 2;
            p = xrealloc(p, cap);
        }
    }
    fclose(f);
    p[n] = '\0';
    if (len)
        *len = n;
    return p;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t test_list_dir(const char *dir, char ***names)
{
    DIR *d = opendir(dir);
    *names = NULL;
    if (!d)
        return 0;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            *names = realloc(*names, cap * sizeof **names);
        }
        (*names)[n++] = strdup(de->d_name);
    }
    closedir(d);
    if (n)
        qsort(*names, n, sizeof **names, cmp_names);
    return n;
}

void test_free_list(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

void test_list_add(struct test_list *l, const char *name, CMUnitTestFunction fn, void *state)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 32;
        l->tests = realloc(l->tests, l->cap * sizeof *l->tests);
    }
    struct CMUnitTest t = {
        .name = strdup(name),
        .test_func = fn,
        .setup_func = NULL,
        .teardown_func = NULL,
        .initial_state = state,
    };
    l->tests[l->n++] = t;
}

int test_list_run(const char *group, struct test_list *l)
{
    int failed = _cmocka_run_group_tests(group, l->tests, l->n, NULL, NULL);
    for (size_t i = 0; i < l->n; i++) {
        free((char *)l->tests[i].name);
        free(l->tests[i].initial_state);
    }
    free(l->tests);
    l->tests = NULL;
    l->n = l->cap = 0;
    return failed;
}

void test_init(void)
{
    cmocka_set_message_output(CM_OUTPUT_TAP);
    crypto_global_init();
    setvbuf(stdout, NULL, _IOLBF, 0);
}

char *test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/brock-test.XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

void test_write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        abort();
    }
    fputs(content, f);
    fclose(f);
}
