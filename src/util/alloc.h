/* alloc.h - allocation that never returns NULL.
 *
 * Every allocation in brock goes through these wrappers. On failure they print
 * one line to stderr and abort: out-of-memory is not a recoverable condition for
 * a command-line tool, and size caps (not NULL checks) are the defence against
 * hostile input. Callers never check for NULL. */
#ifndef BROCK_UTIL_ALLOC_H
#define BROCK_UTIL_ALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* xmemdup returns a NUL-terminated copy of n bytes. */
char *xmemdup(const void *p, size_t n);

/* Wipe n bytes so the compiler cannot elide it (for secrets). */
void secure_wipe(void *p, size_t n);
/* Wipe a NUL-terminated string and free it. NULL is fine. */
void xfree_secret(char *s);

#endif
