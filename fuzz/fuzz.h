/* fuzz.h - what the fuzz targets share: the libFuzzer entry point they
 * define, and CHECK, which traps (so libFuzzer and the replay driver both
 * report the input) when an invariant does not hold. */
#ifndef BROCK_FUZZ_H
#define BROCK_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)              \
    do {                      \
        if (!(x))             \
            __builtin_trap(); \
    } while (0)

#endif
