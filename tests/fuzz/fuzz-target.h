/* fuzz-target.h: the libFuzzer entry point, declared once so that the fuzz
 * targets and the replay driver compile under -Wmissing-prototypes.
 *
 * Each target (fuzz-frame.c, fuzz-ka.c) defines it; it is linked either into
 * a libFuzzer executable (clang, -fsanitize=fuzzer) or into replay-main.c,
 * which runs it over the files of a corpus in an ordinary build. */
#ifndef SMMP_FUZZ_TARGET_H
#define SMMP_FUZZ_TARGET_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#endif /* SMMP_FUZZ_TARGET_H */
