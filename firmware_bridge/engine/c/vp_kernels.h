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

/* ---- helpers shared by the kernels (vp_kernels.c, vp_conv*.c) ---- */
#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#endif

/* x86-64 GCC: also an AVX2 build of the vectorised kernels, chosen at load time */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) && !defined(VP_NO_CLONES)
#define VP_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VP_CLONES
#endif

#define DW_CHUNK 64
#define MAX_TAPS 64

/* arithmetic right shift of a signed value */
#if ((-1) >> 1) == -1
#define ASR(v, s) ((v) >> (s)) /* the compiler shifts signed values arithmetically */
#else
#define ASR(v, s) vp_asr64((v), (s))
#endif

/* what requantising an output needs, read once per layer (it runs once per output value,
   as often as every 9 MACs in a depthwise layer) */
typedef struct {
    const uint8_t *v;
    uint32_t mult, shift; /* byte offsets of the int32 multiplier and shift arrays */
    int32_t zp, lo, hi, single;
    int32_t fast; /* every channel takes rq_fast (exactly the reference's double rounding) */
} rq_t;

/* whether rq_fast is exact for every channel: multiplier in (2^30, 2^31), right shift 2..31 */
static inline int32_t rq_fast_ok(const uint8_t *v, uint32_t mult, uint32_t shift, int32_t oc_n) {
    int32_t c;
    for (c = 0; c < oc_n; c++) {
        int32_t m = vp_rd32(v, mult + 4u * (uint32_t)c), sh = vp_rd32(v, shift + 4u * (uint32_t)c);
        if (m <= (1 << 30) || sh > -2 || sh < -31) return 0;
    }
    return 1;
}

static inline rq_t rq_init(const uint8_t *v, const vp_layer *L, uint32_t q, int32_t oc_n) {
    rq_t r;
    r.v = v;
    r.mult = q + 4u * (uint32_t)oc_n;
    r.shift = q + 8u * (uint32_t)oc_n;
    r.zp = W(OUT_ZP), r.lo = W(ACT_MIN), r.hi = W(ACT_MAX), r.single = P(0) == 1;
    r.fast = !r.single && rq_fast_ok(v, r.mult, r.shift, oc_n);
    return r;
}

/*
 * MultiplyByQuantizedMultiplier with double rounding, for m in (2^30, 2^31) and a right shift
 * r = -shift in 2..31, as one 64-bit multiply-accumulate and two shifts. With P = x * m the
 * reference computes h = floor((P + 2^30) / 2^31), then floor((h + 2^(r-1) - [h < 0]) / 2^r)
 * (RoundingDivideByPOT). Nested floors of integer divisions by positive integers merge, so the
 * result is floor((P + 2^30 - [h < 0] 2^31 + 2^(30+r)) / 2^(31+r)); h < 0 exactly when x < 0
 * (m > 2^30). Splitting the division at 2^32: with H = floor((P + 2^30 - [x < 0] 2^31) / 2^32),
 * the result is floor((floor(H / 2^(r-2)) + 1) / 2).
 */
static inline int32_t rq_fast_r2(int32_t x, int32_t m, int32_t r2) { /* r2 = r - 2 */
    uint32_t lo = ((uint32_t)x & 0x80000000u) | 0x40000000u; /* 2^30 - [x < 0] 2^31, low word */
    int64_t acc = (int64_t)(((uint64_t)(uint32_t)ASR(x, 31) << 32) | lo);
    int32_t h;
    acc += (int64_t)x * (int64_t)m;
    h = (int32_t)ASR(acc, 32);
    return ASR(ASR(h, r2) + 1, 1);
}

static inline int32_t rq_fast(int32_t x, int32_t m, int32_t shift) {
    return rq_fast_r2(x, m, -shift - 2);
}

static inline int8_t rq(const rq_t *r, int32_t oc, int32_t acc) {
    int32_t mult = vp_rd32(r->v, r->mult + 4u * (uint32_t)oc);
    int32_t shift = vp_rd32(r->v, r->shift + 4u * (uint32_t)oc);
    int32_t x;
    if (r->fast)
        x = rq_fast(acc, mult, shift);
    else
        x = r->single ? vp_mbqm_single(acc, mult, shift) : vp_mbqm(acc, mult, shift);
    x += r->zp;
    return (int8_t)(x < r->lo ? r->lo : (x > r->hi ? r->hi : x));
}

/* MultiplyByQuantizedMultiplier (double rounding) without branches, for loops to vectorise */
static inline int32_t mbqm_flat(int32_t acc, int32_t mult, int32_t sh) {
    int32_t left = sh > 0 ? sh : 0, right = sh > 0 ? 0 : -sh;
    int32_t x = (int32_t)((uint32_t)acc << left);
    int32_t h = (int32_t)ASR((int64_t)x * mult + ((int64_t)1 << 30), 31);
    int32_t mask = (int32_t)((1u << right) - 1u);
    return (int32_t)ASR((int64_t)h, right) + ((h & mask) > (mask >> 1) + (h < 0));
}

static inline uint32_t ld32(const int8_t *p) {
    uint32_t v;
    VP_COPY4(&v, p);
    return v;
}

#if defined(__ARM_FEATURE_DSP)
/* SXTB16 of the word rotated by 8: bytes 1 and 3, sign-extended (one instruction) */
static inline uint32_t sxtb16_ror8(uint32_t x) {
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
#endif

#if defined(__ARM_FEATURE_DSP)
static inline int8_t clamp8(int32_t y, int32_t lo, int32_t hi) {
    return (int8_t)(y < lo ? lo : (y > hi ? hi : y));
}

/* channel k of the multiplier and shift arrays at mp and sp, on the one-multiply form (~s - 1 is
   -s - 2 in one instruction fewer than the subtraction) */
static inline int8_t rq_fast_at(const rq_t *R, int32_t acc, const uint8_t *mp, const uint8_t *sp,
                                uint32_t k) {
    int32_t y = rq_fast_r2(acc, vp_rd32(mp, 4u * k), ~vp_rd32(sp, 4u * k) - 1);
    return clamp8(y + R->zp, R->lo, R->hi);
}

#endif

/* n outputs from channel c0: the same arithmetic as rq (double rounding) without branches, so
   compilers vectorise it (vp_kernels.c) */
void vp_rq_row(const rq_t *r, int32_t c0, int32_t n, const int32_t *acc, int32_t zs, int8_t *o);

#endif /* VP_KERNELS_H */
