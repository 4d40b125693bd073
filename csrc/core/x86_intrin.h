// <immintrin.h> for the ISA files. GCC 12's AVX-512 headers pass _mm512_undefined_*() as the pass-through operand
// of many intrinsics (extracts, casts, shuffles, permutes), and once those are inlined -Wmaybe-uninitialized
// flags that never-read operand (GCC bug 105593, fixed in GCC 13): hundreds of false warnings that buried real
// ones. The warning is reported at the header's line, so it is silenced for the header's lines only; our own code
// keeps the warning.
#pragma once
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif
