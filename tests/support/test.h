/* test.h - what every brock unit test includes: cmocka, plus helpers to find
 * AWS's test vectors (../shared/testdata, or $BROCK_TESTDATA) and run a group
 * of tests built at run time (one per vector) with TAP output. */
#ifndef BROCK_TESTS_TEST_H
#define BROCK_TESTS_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>

/* The shared test-vector folder; aborts the test run with a clear message if it
 * cannot be found (a missing vector set must fail, never skip). */
const char *testdata_dir(void);
/* testdata_dir() + "/" + rel, malloc'd. */
char *testdata_path(const char *rel);

/* Read a whole file; NULL if it cannot be read. *len may be NULL. Result is
 * NUL-terminated, malloc'd. */
char *test_read_file(const char *path, size_t *len);

/* List the entries of a directory (no "." or ".."), sorted; returns count and
 * a malloc'd array of malloc'd names in *names. */
size_t test_list_dir(const char *dir, char ***names);
void test_free_list(char **names, size_t n);

/* A growable array of tests for file-driven suites. */
struct test_list {
    struct CMUnitTest *tests;
    size_t n, cap;
};
/* Add a test; name and state are copied/owned by the list (state freed with
 * free() at the end unless NULL). */
void test_list_add(struct test_list *l, const char *name, CMUnitTestFunction fn, void *state);
/* Run tests with TAP output; returns the number of failures. Frees the list. */
int test_list_run(const char *group, struct test_list *l);

/* Set TAP output; call first in main(). */
void test_init(void);

/* Make a fresh temporary directory for a test (removed by the OS/CI, not us). */
char *test_tmpdir(void);
/* Write a file (creating parents is the caller's job). */
void test_write_file(const char *path, const char *content);

#endif
