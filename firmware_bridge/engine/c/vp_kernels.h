/*
 * Internal to the engine: the multiply-accumulate kernels (vp_kernels.c) and the fixed-point
 * helpers they share with vp_engine.c. Not part of the public API (vp_engine.h).
 */
#ifndef VP_KERNELS_H
#define VP_KERNELS_H

#include <string.h>

#include "vp_engine.h"

/* a 4-byte copy the compiler turns into one load even in freestanding builds */
#if defined(__GNUC__)
#define VP_COPY4(dst, src) __builtin_memcpy((dst), (src), 4)
#else
#define VP_COPY4(dst, src) memcpy((dst), (src), 4)
#endif

typedef struct {
    int32_t w[VP_DESC_WORDS];
    uint32_t data; /* absolute byte offset of the layer's data in the .vpw */
} vp_layer;

#define W(k) (L->w[VP_W_##k])
#define P(k) (L->w[VP_P0 + (k)])

/* little-endian int32 of the model bytes */
static inline int32_t vp_rd32(const uint8_t *p, uint32_t off) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    int32_t v; /* one (unaligned-safe) load where the byte order already matches */
    VP_COPY4(&v, p + off);
    return v;
#else
    uint32_t v = (uint32_t)p[off] | ((uint32_t)p[off + 1u] << 8) | ((uint32_t)p[off + 2u] << 16) |
                 ((uint32_t)p[off + 3u] << 24);
    return (int32_t)v;
#endif
}

#define VP_I32_MIN ((int32_t)(-2147483647 - 1))
#define VP_I32_MAX ((int32_t)2147483647)

/* arithmetic right shift (floor), defined for negative values too */
static inline int64_t vp_asr64(int64_t v, int32_t s) { return v >= 0 ? (v >> s) : ~((~v) >> s); }

/* gemmlowp SaturatingRoundingDoublingHighMul */
static inline int32_t vp_srdhm(int32_t a, int32_t b) {
    int64_t ab, nudge;
    if (a == b && a == VP_I32_MIN) return VP_I32_MAX;
    ab = (int64_t)a * (int64_t)b;
    /* (ab + nudge) / 2^31 truncated, nudge = 2^30 or 1 - 2^30 by the sign of ab, equals the
       floor of (ab + 2^30) / 2^31 for either sign: one add and one shift */
    nudge = (int64_t)1 << 30;
    return (int32_t)vp_asr64(ab + nudge, 31);
}

static inline int32_t vp_asr32(int32_t v, int32_t s) { return v >= 0 ? (v >> s) : ~((~v) >> s); }

/* gemmlowp RoundingDivideByPOT (0 <= e <= 31) */
static inline int32_t vp_rdpot(int32_t x, int32_t e) {
    int32_t mask = (int32_t)((((uint32_t)1) << e) - 1u);
    int32_t rem = x & mask;
    int32_t th = (mask >> 1) + (x < 0 ? 1 : 0);
    return vp_asr32(x, e) + (rem > th ? 1 : 0);
}

/* TFLite MultiplyByQuantizedMultiplier (double rounding) */
static inline int32_t vp_mbqm(int32_t x, int32_t m, int32_t shift) {
    int32_t left = shift > 0 ? shift : 0;
    int32_t right = shift > 0 ? 0 : -shift;
    return vp_rdpot(vp_srdhm((int32_t)((uint32_t)x << left), m), right);
}

/* TFLITE_SINGLE_ROUNDING variant: one rounding of x * m / 2^(31 - shift) */
static inline int32_t vp_mbqm_single(int32_t x, int32_t m, int32_t shift) {
    int32_t total = 31 - shift;
    return (int32_t)vp_asr64((int64_t)x * (int64_t)m + ((int64_t)1 << (total - 1)), total);
}

/* bytes of a weights layer's weight block (before bias, multipliers, shifts) */
int64_t vp_weight_bytes(const vp_layer *L);
/* scratch bytes the kernel of a weights layer needs (0: none) */
int64_t vp_scratch_need(const vp_layer *L);

void vp_conv(const vp_model_info *m, const vp_layer *L, uint8_t *a);
/* ADD element by element: p holds the layer's P0..P6 (left shift, multipliers and shifts) */
void vp_add_direct(const int8_t *in1, const int8_t *in2, int8_t *out, int32_t n, const int32_t *p,
                   int32_t zp1, int32_t zp2, int32_t zp, int32_t lo, int32_t hi);
/* ADD's first step: the 256-entry table of one input's rescaled bytes */
void vp_add_table(int32_t *t, int32_t zp, int32_t left, int32_t mult, int32_t shift);
/* ADD's last step: out[i] = clamp(requantise(t1[in1[i]] + t2[in2[i]]) + zp), double rounding */
void vp_add_tables(const int32_t *t1, const int32_t *t2, const uint8_t *in1, const uint8_t *in2,
                   uint8_t *out, int32_t n, int32_t mult, int32_t shift, int32_t zp, int32_t lo,
                   int32_t hi);
void vp_depthwise(const vp_model_info *m, const vp_layer *L, uint8_t *a);

#endif /* VP_KERNELS_H */
