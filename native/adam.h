// The native Adam rows kernel (adam.c).
#ifndef METAHEAC_ADAM_H
#define METAHEAC_ADAM_H
#include <stddef.h>
#include <stdint.h>

/** Adam on rows ids[0..n) of [rows, E] arrays p, m, v, g: torch.optim.Adam's f32 operations, in its order. */
void adam_rows(float *p, float *m, float *v, const float *g, const int32_t *ids, int n, int E, float stepSize, float bc2,
               float ib1, float b2, float ib2, float eps);
#endif
