// Which vector extensions this CPU has, asked once: the native kernels pick their variant by it.
#ifndef METAHEAC_CPU_H
#define METAHEAC_CPU_H

enum cpu_level { CPU_NONE = 0, CPU_AVX2_FMA = 1, CPU_AVX512 = 2 };

static inline enum cpu_level cpu_level(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return CPU_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CPU_AVX2_FMA;
#endif
  return CPU_NONE;
}
#endif
