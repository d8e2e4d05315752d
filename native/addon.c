// Node-API binding of gemm.c and adam.c. Pointers arrive as byte offsets into the engine's shared
// WebAssembly memory (a Uint8Array over all of it, passed with every call: each engine has
// its own memory, and a thread may hold several engines), so the wasm kernels and this code
// work on the same arrays without copies.
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdint.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "adam.h"
#include "gemm.h"

#define MAX_ARGS 16

#define CHECK(call)                                                        \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error(env, NULL, "metaheac native gemm: " #call " failed"); \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

// The base of the memory view in argv[0] (its length in *len), then `nInts` arguments as uint32
// (pointers above 2 GiB may arrive as negative int32 and wrap back) and `nFloats` as doubles.
static uint8_t *read_args(napi_env env, napi_callback_info info, size_t nInts, size_t nFloats, size_t *len, uint32_t *at,
                         double *f) {
  size_t argc = MAX_ARGS;
  napi_value argv[MAX_ARGS];
  napi_typedarray_type type;
  void *data;
  size_t offset;
  napi_value ab;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 + nInts + nFloats ||
      napi_get_typedarray_info(env, argv[0], &type, len, &data, &ab, &offset) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "metaheac native kernel: wrong number of arguments, or the first is not a Uint8Array over the engine memory");
    return NULL;
  }
  for (size_t i = 0; i < nInts; i++) {
    if (napi_get_value_uint32(env, argv[1 + i], &at[i]) != napi_ok) goto bad;
  }
  for (size_t i = 0; i < nFloats; i++) {
    if (napi_get_value_double(env, argv[1 + nInts + i], &f[i]) != napi_ok) goto bad;
  }
  return data;
bad:
  napi_throw_type_error(env, NULL, "metaheac native kernel: arguments after the memory must be numbers");
  return NULL;
}

// Whether a rows x cols matrix stored with row stride ld at byte offset `at` lies inside the memory.
static int inside(size_t len, uint32_t at, uint32_t rows, uint32_t cols, uint32_t ld) {
  if (rows == 0 || cols == 0) return 1;
  const uint64_t end = (uint64_t)at + ((uint64_t)(rows - 1) * ld + cols) * 4;
  return (at & 3) == 0 && end <= len;
}

// The memory and `n` gemm arguments (gemm.c's, then gemmRows's two more), after checking that
// every operand and the scratch lie in the memory.
static uint8_t *gemm_args(napi_env env, napi_callback_info info, size_t n, size_t *len, uint32_t *g) {
  uint8_t *m = read_args(env, info, n, 0, len, g, NULL);
  if (!m) return NULL;
  const uint32_t tA = g[0], tB = g[1], M = g[2], N = g[3], K = g[4], lda = g[9], ldb = g[10], ldc = g[11];
  const int ok = (int32_t)M >= 0 && (int32_t)N >= 0 && (int32_t)K >= 0 &&
                 inside(*len, g[5], tA ? K : M, tA ? M : K, lda) && inside(*len, g[6], tB ? N : K, tB ? K : N, ldb) &&
                 inside(*len, g[7], M, N, ldc) && (uint64_t)g[12] + gemm_scratch_bytes() <= *len;
  if (ok) return m;
  napi_throw_range_error(env, NULL, "metaheac native gemm: an operand lies outside the engine memory");
  return NULL;
}

// gemm (13 arguments) or, with a row-chunk counter and chunk size, gemmRows (15).
static napi_value gemm_entry(napi_env env, napi_callback_info info, int rows) {
  size_t len;
  uint32_t g[15];
  uint8_t *m = gemm_args(env, info, rows ? 15 : 13, &len, g);
  if (!m) return NULL;
  const float *A = (const float *)(m + g[5]), *B = (const float *)(m + g[6]);
  float *C = (float *)(m + g[7]), *scratch = (float *)(m + g[12]);
  if (!rows) {
    gemm_part((int)g[0], (int)g[1], (int)g[2], (int)g[3], (int)g[4], A, B, C, (int)g[8], (int)g[9], (int)g[10], (int)g[11], scratch);
    return NULL;
  }
  if ((g[13] & 3) != 0 || (uint64_t)g[13] + 4 > len || (int32_t)g[14] <= 0) {
    napi_throw_range_error(env, NULL, "metaheac native gemm: bad row-chunk counter or chunk size");
    return NULL;
  }
  gemm_rows((int)g[0], (int)g[1], (int)g[2], (int)g[3], (int)g[4], A, B, C, (int)g[8], (int)g[9], (int)g[10], (int)g[11], scratch,
            (int32_t *)(m + g[13]), (int)g[14]);
  return NULL;
}

static napi_value Gemm(napi_env env, napi_callback_info info) { return gemm_entry(env, info, 0); }

static napi_value GemmRows(napi_env env, napi_callback_info info) { return gemm_entry(env, info, 1); }

// adamRows(mem, p, m, v, g, ids, n, E, stepSize, bc2, ib1, b2, ib2, eps): the wasm kernel's
// arguments; every listed row of every array must lie in the memory.
static napi_value AdamRows(napi_env env, napi_callback_info info) {
  size_t len;
  uint32_t at[7];
  double f[6];
  uint8_t *m = read_args(env, info, 7, 6, &len, at, f);
  if (!m) return NULL;
  const uint32_t n = at[5], E = at[6];
  int ok = (int32_t)n >= 0 && (int32_t)E >= 0 && inside(len, at[4], 1, n, n);
  for (int i = 0; i < 4; i++) ok = ok && (at[i] & 3) == 0;
  const int32_t *ids = (const int32_t *)(m + at[4]);
  for (uint32_t u = 0; ok && u < n; u++) {
    const uint64_t row = (uint64_t)(uint32_t)ids[u] * E * 4 + (uint64_t)E * 4;
    for (int i = 0; i < 4; i++) ok = ok && ids[u] >= 0 && at[i] + row <= len;
  }
  if (!ok) {
    napi_throw_range_error(env, NULL, "metaheac native adamRows: a row lies outside the engine memory");
    return NULL;
  }
  adam_rows((float *)(m + at[0]), (float *)(m + at[1]), (float *)(m + at[2]), (const float *)(m + at[3]), ids, (int)n, (int)E,
            (float)f[0], (float)f[1], (float)f[2], (float)f[3], (float)f[4], (float)f[5]);
  return NULL;
}

// hugePages(mem): asks Linux to back the memory with 2 MiB pages where transparent huge pages
// are enabled "always" or "madvise". The tables' rows are read and written at random, so 4 KiB
// pages cost a TLB miss on nearly every row and a page fault on every first touch. Returns
// whether the kernel took the advice; it changes no result.
static napi_value HugePages(napi_env env, napi_callback_info info) {
  size_t len;
  uint8_t *m = read_args(env, info, 0, 0, &len, NULL, NULL);
  napi_value out;
  if (!m) return NULL;
  int ok = 0;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const uintptr_t huge = 2u << 20;
  const uintptr_t from = ((uintptr_t)m + huge - 1) & ~(huge - 1);
  const uintptr_t to = ((uintptr_t)m + len) & ~(huge - 1);
  ok = to > from && madvise((void *)from, to - from, MADV_HUGEPAGE) == 0;
#endif
  CHECK(napi_get_boolean(env, ok, &out));
  return out;
}

static napi_value RowsFits(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t N, K;
  napi_value out;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_int32(env, argv[0], &N));
  CHECK(napi_get_value_int32(env, argv[1], &K));
  CHECK(napi_get_boolean(env, gemm_rows_fits(N, K), &out));
  return out;
}

static napi_value Init(napi_env env, napi_value exports) {
  const char *variant = gemm_variant();
  napi_value v;
  if (variant == NULL) {
    CHECK(napi_get_null(env, &v));
    CHECK(napi_set_named_property(env, exports, "variant", v));
    return exports;
  }
  CHECK(napi_create_string_utf8(env, variant, NAPI_AUTO_LENGTH, &v));
  CHECK(napi_set_named_property(env, exports, "variant", v));
  CHECK(napi_create_int32(env, gemm_tile_rows(), &v));
  CHECK(napi_set_named_property(env, exports, "tileRows", v));
  CHECK(napi_create_int32(env, gemm_tile_cols(), &v));
  CHECK(napi_set_named_property(env, exports, "tileCols", v));
  CHECK(napi_create_double(env, (double)gemm_scratch_bytes(), &v));
  CHECK(napi_set_named_property(env, exports, "scratchBytes", v));
  const napi_property_descriptor fns[] = {
      {"gemm", NULL, Gemm, NULL, NULL, NULL, napi_default, NULL},
      {"gemmRows", NULL, GemmRows, NULL, NULL, NULL, napi_default, NULL},
      {"gemmRowsFits", NULL, RowsFits, NULL, NULL, NULL, napi_default, NULL},
      {"adamRows", NULL, AdamRows, NULL, NULL, NULL, napi_default, NULL},
      {"hugePages", NULL, HugePages, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
