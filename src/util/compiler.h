/* compiler.h - small portability and annotation macros used across brock. */
#ifndef BROCK_UTIL_COMPILER_H
#define BROCK_UTIL_COMPILER_H

#if defined(__GNUC__) || defined(__clang__)
#define BROCK_WUR __attribute__((warn_unused_result))
#define BROCK_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define BROCK_NORETURN __attribute__((noreturn))
#define BROCK_UNUSED __attribute__((unused))
#define BROCK_LIKELY(x) __builtin_expect(!!(x), 1)
#define BROCK_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define BROCK_WUR
#define BROCK_PRINTF(f, a)
#define BROCK_NORETURN
#define BROCK_UNUSED
#define BROCK_LIKELY(x) (x)
#define BROCK_UNLIKELY(x) (x)
#endif

#define BROCK_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
