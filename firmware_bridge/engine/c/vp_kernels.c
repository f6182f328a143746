/*
 * DEPTHWISE_CONV_2D (weights [tap][OC]) and the requantisation and ADD helpers the kernels share;
 * the convolutions are in vp_conv.c (generic and portable), vp_conv_dsp.c (Cortex-M with the DSP
 * extension) and vp_conv_host.c (hosts). Sums are taken modulo 2^32: when LiteRT's int32 sum does
 * not overflow (it must not), the rearranged one gives the same value.
 */
#include "vp_kernels.h"

#include <string.h>

/* n outputs from channel c0: the same arithmetic as rq (double rounding) without branches, so
   compilers vectorise it (per-lane shifts and 32x32->64 products: AVX2, NEON) */
VP_CLONES void vp_rq_row(const rq_t *r, int32_t c0, int32_t n, const int32_t *acc, int32_t zs,
                             int8_t *o) {
    /* locals: the int8 stores below may alias anything the struct points to */
    const uint8_t *mp = r->v + r->mult + 4u * (uint32_t)c0;
    const uint8_t *sp = r->v + r->shift + 4u * (uint32_t)c0;
    int32_t zp = r->zp, lo = r->lo, hi = r->hi, j;
    int32_t y[DW_CHUNK];
    if (r->single) {
        for (j = 0; j < n; j++)
            o[c0 + j] = rq(r, c0 + j, (int32_t)((uint32_t)acc[j] - (uint32_t)zs));
        return;
    }
    if (r->fast) {
        for (j = 0; j < n; j++)
            y[j] = rq_fast((int32_t)((uint32_t)acc[j] - (uint32_t)zs),
                           vp_rd32(mp, 4u * (uint32_t)j), vp_rd32(sp, 4u * (uint32_t)j));
    } else {
        for (j = 0; j < n; j++)
            y[j] = mbqm_flat((int32_t)((uint32_t)acc[j] - (uint32_t)zs),
                             vp_rd32(mp, 4u * (uint32_t)j), vp_rd32(sp, 4u * (uint32_t)j));
    }
    for (j = 0; j < n; j++) {
        int32_t v = y[j] + zp;
        v = v < lo ? lo : v;
        y[j] = v > hi ? hi : v;
    }
    o += c0;
    for (j = 0; j < n; j++) o[j] = (int8_t)y[j];
}

/* MultiplyByQuantizedMultiplier (double rounding) for a right shift 0 <= r <= 31 and m other
   than INT32_MIN (no saturating case): one 64-bit product, the rest in 32 bits */
static inline int32_t mbqm_right(int32_t x, int32_t m, int32_t r) {
    int32_t h = (int32_t)ASR((int64_t)x * m + ((int64_t)1 << 30), 31);
    int32_t mask = (int32_t)((1u << r) - 1u);
    return ASR(h, r) + ((h & mask) > (mask >> 1) + (h < 0));
}

/* the rescaling ADD applies to each input and to the sum (shift <= 0, the layer check's bound) */
static inline int32_t add_mbqm(int32_t x, int32_t mult, int32_t shift) {
    return mult == VP_I32_MIN ? vp_mbqm(x, mult, shift) : mbqm_right(x, mult, -shift);
}

/* ADD's first step for one input: t[b] = byte b (as int8) less zp, times 2^left, rescaled by
   mult and shift (<= 0, the layer check's bound) with the reference's double rounding */
VP_CLONES void vp_add_table(int32_t *t, int32_t zp, int32_t left, int32_t mult, int32_t shift) {
    int32_t i;
    for (i = 0; i < 256; i++) {
        int32_t x = ((i & 0x7F) - (i & 0x80) - zp) * (1 << left);
        t[i] = add_mbqm(x, mult, shift);
    }
}

/* ADD element by element (short tensors: cheaper than the tables), p: the layer's
   parameters (left shift, the inputs' multipliers and shifts, the output's) */
void vp_add_direct(const int8_t *in1, const int8_t *in2, int8_t *out, int32_t n, const int32_t *p,
                   int32_t zp1, int32_t zp2, int32_t zp, int32_t lo, int32_t hi) {
    int32_t i;
    for (i = 0; i < n; i++) {
        int32_t s1 = add_mbqm((in1[i] - zp1) * (1 << p[0]), p[1], p[2]);
        int32_t s2 = add_mbqm((in2[i] - zp2) * (1 << p[0]), p[3], p[4]);
        int32_t r = add_mbqm(s1 + s2, p[5], p[6]) + zp;
        out[i] = (int8_t)(r < lo ? lo : (r > hi ? hi : r));
    }
}

#if defined(__ARM_FEATURE_DSP)
static void add_tables_dsp(const int32_t *t1, const int32_t *t2, const uint8_t *in1,
                           const uint8_t *in2, uint8_t *out, int32_t n, int32_t mult, int32_t r2,
                           int32_t zp, int32_t lo, int32_t hi);
#endif

VP_CLONES void vp_add_tables(const int32_t *t1, const int32_t *t2, const uint8_t *in1,
                             const uint8_t *in2, uint8_t *out, int32_t n, int32_t mult,
                             int32_t shift, int32_t zp, int32_t lo, int32_t hi) {
    int32_t i0, i, m, fast = mult > (1 << 30) && shift <= -2 && shift >= -31;
    int32_t s[DW_CHUNK];
#if defined(__ARM_FEATURE_DSP)
    if (fast) {
        add_tables_dsp(t1, t2, in1, in2, out, n, mult, -shift - 2, zp, lo, hi);
        return;
    }
#endif
    for (i0 = 0; i0 < n; i0 += DW_CHUNK) { /* table look-ups, then loops that vectorise */
        m = n - i0 < DW_CHUNK ? n - i0 : DW_CHUNK;
        for (i = 0; i < m; i++) s[i] = t1[in1[i0 + i]] + t2[in2[i0 + i]];
        if (fast)
            for (i = 0; i < m; i++) s[i] = rq_fast(s[i], mult, shift);
        else
            for (i = 0; i < m; i++) s[i] = add_mbqm(s[i], mult, shift);
        for (i = 0; i < m; i++) {
            int32_t y = s[i] + zp;
            y = y < lo ? lo : y;
            out[i0 + i] = (uint8_t)(y > hi ? hi : y);
        }
    }
}

#if defined(__ARM_FEATURE_DSP)
/* one tap of four channels: the input word at x, its weights sign-extended in w[0] (channels 0,
   2) and w[1] (channels 1, 3) */
#define DW_TAP(x, w)                                                                              \
    do {                                                                                          \
        uint32_t x_ = ld32(x), xe_ = __sxtb16(x_), xo_ = sxtb16_ror8(x_);                         \
        a0 = __smlabb(xe_, (w)[0], a0), a2 = __smlatt(xe_, (w)[0], a2);                           \
        a1 = __smlabb(xo_, (w)[1], a1), a3 = __smlatt(xo_, (w)[1], a3);                           \
    } while (0)

/* the low halfword of a, the low halfword of b above it (PKHBT; GCC's ACLE lacks __pkhbt) */
static inline uint32_t pkhbt16(uint32_t a, uint32_t b) {
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* four requantised outputs (before their clamp) as four int8 in one word, each clamped to
   [lo, hi] byte-wise (lo4, hi4: the bounds in every byte): SSAT to int8 first changes nothing,
   the bounds lie inside int8; then SSUB8 sets a GE flag per byte and SEL picks by it */
static inline uint32_t clamp4(int32_t y0, int32_t y1, int32_t y2, int32_t y3, uint32_t lo4,
                              uint32_t hi4) {
    uint32_t e = pkhbt16((uint32_t)__ssat(y0, 8), (uint32_t)__ssat(y2, 8));
    uint32_t o = pkhbt16((uint32_t)__ssat(y1, 8), (uint32_t)__ssat(y3, 8));
    uint32_t w = __uxtb16(e) | (__uxtb16(o) << 8), t;
    __asm__("ssub8 %[t], %[w], %[lo]\n\tsel %[w], %[w], %[lo]\n\t"
            "ssub8 %[t], %[hi], %[w]\n\tsel %[w], %[w], %[hi]"
            : [w] "+r"(w), [t] "=&r"(t)
            : [lo] "r"(lo4), [hi] "r"(hi4));
    return w;
}

#if defined(__ARM_FEATURE_DSP)
/* vp_add_tables for a multiplier on rq_fast, four elements a pass in one loop: the bytes of
   both inputs read a word at a time, the four results clamped and stored as one word */
static void add_tables_dsp(const int32_t *t1, const int32_t *t2, const uint8_t *in1,
                           const uint8_t *in2, uint8_t *out, int32_t n, int32_t mult, int32_t r2,
                           int32_t zp, int32_t lo, int32_t hi) {
    uint32_t lo4 = 0x01010101u * (uint8_t)lo, hi4 = 0x01010101u * (uint8_t)hi;
    int32_t i, y;
    for (i = 0; i + 4 <= n; i += 4) {
        uint32_t x = ld32((const int8_t *)in1 + i), z = ld32((const int8_t *)in2 + i), w;
        int32_t s0 = t1[x & 0xFFu] + t2[z & 0xFFu];
        int32_t s1 = t1[(x >> 8) & 0xFFu] + t2[(z >> 8) & 0xFFu];
        int32_t s2 = t1[(x >> 16) & 0xFFu] + t2[(z >> 16) & 0xFFu];
        int32_t s3 = t1[x >> 24] + t2[z >> 24];
        w = clamp4(rq_fast_r2(s0, mult, r2) + zp, rq_fast_r2(s1, mult, r2) + zp,
                   rq_fast_r2(s2, mult, r2) + zp, rq_fast_r2(s3, mult, r2) + zp, lo4, hi4);
        VP_COPY4(out + i, &w);
    }
    for (; i < n; i++) {
        y = rq_fast_r2(t1[in1[i]] + t2[in2[i]], mult, r2) + zp;
        out[i] = (uint8_t)(y < lo ? lo : (y > hi ? hi : y));
    }
}
#endif

/* one pixel, four channels per step: SXTB16 splits even/odd bytes, SMLABB/SMLATT accumulate each
   lane. Per chunk of DW_CHUNK channels every tap reads through a pointer: into the input, or
   into a row of the input zero point where the tap falls in the padding (one loop for both). */
static void dw_pixel_dsp(const vp_model_info *m, const vp_layer *L, const rq_t *Rp,
                         const uint8_t *a, const int32_t *off, int8_t *o) {
    const uint8_t *v = m->vpw;
    const int8_t *wts = (const int8_t *)v + L->data;
    int32_t oc_n = W(OC), taps = W(KH) * W(KW), c0, c, t;
    uint32_t q = L->data + (uint32_t)(taps * oc_n);
    rq_t R = *Rp;
    const int8_t *ptr[MAX_TAPS];
    int8_t zrow[DW_CHUNK];
    memset(zrow, (uint8_t)W(IN_ZP), sizeof(zrow));
    for (c0 = 0; c0 < oc_n; c0 += DW_CHUNK) {
        int32_t n = oc_n - c0 < DW_CHUNK ? oc_n - c0 : DW_CHUNK;
        for (t = 0; t < taps; t++) ptr[t] = off[t] >= 0 ? (const int8_t *)a + off[t] + c0 : zrow;
        for (c = 0; c + 4 <= n; c += 4) {
            uint32_t qc = q + 4u * (uint32_t)(c0 + c);
            int32_t a0 = vp_rd32(v, qc), a1 = vp_rd32(v, qc + 4u);
            int32_t a2 = vp_rd32(v, qc + 8u), a3 = vp_rd32(v, qc + 12u);
            const int8_t *wr = wts + c0 + c;
            const int8_t *const *pp = ptr;
            for (t = taps; t > 0; t--, wr += oc_n) {
                uint32_t x = ld32(*pp++ + c), w = ld32(wr);
                uint32_t xe = __sxtb16(x), xo = sxtb16_ror8(x);
                uint32_t we = __sxtb16(w), wo = sxtb16_ror8(w);
                a0 = __smlabb(xe, we, a0);
                a2 = __smlatt(xe, we, a2);
                a1 = __smlabb(xo, wo, a1);
                a3 = __smlatt(xo, wo, a3);
            }
            if (R.fast) { /* four channels' multipliers and shifts: one pointer each */
                const uint8_t *mp = v + R.mult + 4u * (uint32_t)(c0 + c);
                const uint8_t *sp = v + R.shift + 4u * (uint32_t)(c0 + c);
                int8_t *oc4 = o + c0 + c;
                oc4[0] = rq_fast_at(&R, a0, mp, sp, 0u);
                oc4[1] = rq_fast_at(&R, a1, mp, sp, 1u);
                oc4[2] = rq_fast_at(&R, a2, mp, sp, 2u);
                oc4[3] = rq_fast_at(&R, a3, mp, sp, 3u);
                continue;
            }
            o[c0 + c] = rq(&R, c0 + c, a0);
            o[c0 + c + 1] = rq(&R, c0 + c + 1, a1);
            o[c0 + c + 2] = rq(&R, c0 + c + 2, a2);
            o[c0 + c + 3] = rq(&R, c0 + c + 3, a3);
        }
        for (; c < n; c++) {
            int32_t acc = vp_rd32(v, q + 4u * (uint32_t)(c0 + c));
            for (t = 0; t < taps; t++) acc += ptr[t][c] * wts[t * oc_n + c0 + c];
            o[c0 + c] = rq(&R, c0 + c, acc);
        }
    }
}
#endif

#if defined(__ARM_FEATURE_DSP)
/* whether a layer takes dw3x3_inner and dw3x3_edge: 3x3 taps, depth multiplier 1, channels a
   multiple of 4, every channel on rq_fast, int8 zero points (the border's halfword differences,
   dw_pack4's halfword offset) - the pack-time shape class of MobileNet and DS-CNN depthwise */
static int dw3x3_ok(const vp_layer *L, const rq_t *R) {
    return W(KH) == 3 && W(KW) == 3 && W(DMUL) == 1 && (W(OC) & 3) == 0 && R->fast &&
           W(IN_ZP) >= -128 && W(IN_ZP) <= 127 && R->zp >= -128 && R->zp <= 127;
}

/* first and one-past-last output index whose 3 taps all fall inside [0, n) of the input */
static void inner_span(int32_t out_n, int32_t in_n, int32_t s, int32_t pad, int32_t d,
                       int32_t *lo, int32_t *hi) {
    int32_t a = (pad + s - 1) / s, b = (in_n - 1 + pad - 2 * d) / s + 1;
    if (in_n - 1 + pad - 2 * d < 0) b = 0;
    *lo = a < out_n ? a : out_n;
    *hi = b < *lo ? *lo : (b > out_n ? out_n : b);
}

/* kept out of vp_depthwise: inlined there, the loops spill more (VWW +0.1 M instructions) */
#if defined(__GNUC__)
#define VP_NOINLINE __attribute__((noinline))
#else
#define VP_NOINLINE
#endif

/* one group of four channels of a 3x3 layer: the nine taps' weights sign-extended once (even
   and odd channels), the bias, the multiplier and the right shift less two (rq_fast_r2); the
   first fields at the offsets dw3x3_row's assembly reads */
typedef struct {
    int32_t bias[4];     /* 0 */
    int32_t dx, dy;      /* 16, 20: bytes between a window's columns and rows (LDM with bias) */
    uint32_t w[9][2];    /* 24 */
    int32_t q[4][3];     /* 96: per channel m, 2^(r-1) + zp 2^r, r (the doubled form) */
    int32_t step, ostep; /* 144, 148: to the next pixel's window (from its third row) and output */
    uint32_t lo4, hi4;   /* 152, 156: the clamp bounds in every byte */
    uint32_t zc;         /* dw_zc of the output zero point */
    int32_t r2[4];
    int32_t bz[4]; /* border pixels: the bias with the input zero point's share put back */
    int32_t dbl;   /* the layer takes the doubled form (dw_dbl_ok) */
} dw_group;

#if defined(__GNUC__) && defined(__thumb2__)
#define VP_DW_ROW 1 /* dw3x3_row and the doubled form in assembly */
#endif

static void dw_group_load(const uint8_t *v, const vp_layer *L, const rq_t *R, int32_t c,
                          dw_group *g) {
    const int8_t *wts = (const int8_t *)v + L->data;
    int32_t oc_n = W(OC), t, k;
    uint32_t q = L->data + 9u * (uint32_t)oc_n, z1 = 2u * (uint32_t)R->zp + 1u;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 9 /* once per four channels and per border batch: no loop counters */
#endif
    for (t = 0; t < 9; t++) {
        uint32_t x = ld32(wts + t * oc_n + c);
        g->w[t][0] = __sxtb16(x), g->w[t][1] = sxtb16_ror8(x);
    }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
    for (k = 0; k < 4; k++) {
        g->bias[k] = vp_rd32(v, q + 4u * (uint32_t)(c + k));
        g->r2[k] = ~vp_rd32(v, R->shift + 4u * (uint32_t)(c + k)) - 1;
        g->q[k][0] = vp_rd32(v, R->mult + 4u * (uint32_t)(c + k));
    }
    if (!g->dbl) return;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
    for (k = 0; k < 4; k++) /* q: m, 2^(r-1) + zp 2^r = (2 zp + 1) 2^(r-1), r (dw_dbl_ok) */
        g->q[k][1] = (int32_t)(z1 << ((g->r2[k] + 1) & 31)), g->q[k][2] = g->r2[k] + 2;
}

/* whether the layer takes the doubled form (as pw_table decides it for a conv layer): on every
   channel the sum's bound |bias| + 9 2^14 below 2^29 and r <= 22, so twice the sum and the
   addend plus h fit in int32 */
static int dw_dbl_ok(const uint8_t *v, const vp_layer *L, const rq_t *R) {
    int32_t c, oc_n = W(OC);
    const uint32_t K = (1u << 29) - (9u << 14) - 1u; /* |bias| <= K: -K <= bias <= K */
    const uint8_t *bp = v + L->data + 9u * (uint32_t)oc_n, *sp = v + R->shift;
    for (c = 0; c < oc_n; c++, bp += 4, sp += 4)
        if ((uint32_t)(-vp_rd32(sp, 0) - 2) > 20u || (uint32_t)vp_rd32(bp, 0) + K > 2u * K)
            return 0;
    return 1;
}

/* rq_fast_r2 up to its last step: h = floor(H / 2^(r - 2)); the output is then
   floor((h + 1) / 2) + zp = floor((h + 1 + 2 zp) / 2) */
static inline int32_t dw_h(int32_t x, int32_t m, int32_t r2) {
    uint32_t lo = ((uint32_t)x & 0x80000000u) | 0x40000000u; /* as in rq_fast_r2 */
    int64_t acc = (int64_t)(((uint64_t)(uint32_t)ASR(x, 31) << 32) | lo);
    acc += (int64_t)x * (int64_t)m;
    return ASR((int32_t)ASR(acc, 32), r2);
}

/* 1 + 2 zp in both halfwords: what dw_pack4 adds before halving */
static inline uint32_t dw_zc(int32_t zp) {
    uint32_t c = (uint32_t)(1 + 2 * zp) & 0xFFFFu;
    return c | (c << 16);
}

/* the four h of a group to four int8 in one word, clamped to [lo, hi] byte-wise: h saturated to
   int16 first (past it the int8 result saturates alike: |1 + 2 zp| < 256), then per halfword pair
   SHADD16 takes floor((h + 1 + 2 zp) / 2) in one step and SSAT16 saturates to int8 */
static inline uint32_t dw_pack4(int32_t h0, int32_t h1, int32_t h2, int32_t h3, uint32_t zc,
                                uint32_t lo4, uint32_t hi4) {
    uint32_t e = pkhbt16((uint32_t)__ssat(h0, 16), (uint32_t)__ssat(h2, 16));
    uint32_t o = pkhbt16((uint32_t)__ssat(h1, 16), (uint32_t)__ssat(h3, 16));
    uint32_t w, t;
    e = (uint32_t)__ssat16((int16x2_t)__shadd16(e, zc), 8);
    o = (uint32_t)__ssat16((int16x2_t)__shadd16(o, zc), 8);
    w = __uxtb16(e) | (__uxtb16(o) << 8);
    __asm__("ssub8 %[t], %[w], %[lo]\n\tsel %[w], %[w], %[lo]\n\t"
            "ssub8 %[t], %[hi], %[w]\n\tsel %[w], %[w], %[hi]"
            : [w] "+r"(w), [t] "=&r"(t)
            : [lo] "r"(lo4), [hi] "r"(hi4));
    return w;
}

#if defined(VP_DW_ROW)
/* one sum on the doubled form with q = m, 2^(r-1) + zp 2^r, r: dw3x3_row's DW_ROW_RQ in C */
static inline int32_t dw_rq2(int32_t y, const int32_t *q) {
    int32_t t, d;
    __asm__("add %[d], %[y], %[y]\n\t"
            "smmlar %[t], %[d], %[m], %[A]\n\t"
            "add %[t], %[t], %[y], asr #31\n\t"
            "asr %[t], %[t], %[r]\n\t"
            "ssat %[t], #8, %[t]"
            : [t] "=&r"(t), [d] "=&r"(d)
            : [y] "r"(y), [m] "r"(q[0]), [A] "r"(q[1]), [r] "r"(q[2]));
    return t;
}

/* the four sums of a group on the doubled form to one word clamped to [lo, hi] byte-wise */
static inline uint32_t dw_pack4_dbl(int32_t a0, int32_t a1, int32_t a2, int32_t a3,
                                    const dw_group *g) {
    uint32_t w = (uint32_t)dw_rq2(a0, g->q[0]), u = (uint32_t)dw_rq2(a2, g->q[2]), t;
    __asm__("bfi %[w], %[b], #8, #8\n\tbfi %[u], %[d], #8, #8\n\tbfi %[w], %[u], #16, #16\n\t"
            "ssub8 %[t], %[w], %[lo]\n\tsel %[w], %[w], %[lo]\n\t"
            "ssub8 %[t], %[hi], %[w]\n\tsel %[w], %[w], %[hi]"
            : [w] "+r"(w), [u] "+r"(u), [t] "=&r"(t)
            : [b] "r"(dw_rq2(a1, g->q[1])), [d] "r"(dw_rq2(a3, g->q[3])), [lo] "r"(g->lo4),
              [hi] "r"(g->hi4));
    return w;
}
#endif

/* the four sums of a group requantised, offset, clamped and stored as one word */
#define DW_STORE4(o, g)                                                                           \
    do {                                                                                          \
        uint32_t w4_ = dw_pack4(                                                                  \
            dw_h(a0, (g)->q[0][0], (g)->r2[0]), dw_h(a1, (g)->q[1][0], (g)->r2[1]),              \
            dw_h(a2, (g)->q[2][0], (g)->r2[2]), dw_h(a3, (g)->q[3][0], (g)->r2[3]), zc, lo4, hi4); \
        VP_COPY4((o), &w4_);                                                                      \
    } while (0)

#if defined(__GNUC__) && defined(__thumb2__)
/* one tap in Thumb-2: the input word at r + off, its weights at byte wo of the table */
#define DW_TAP_ASM(off, wo)                                                                       \
    "ldr %[x], [%[r]" off "]\n\t"                                                                \
    "ldrd %[we], %[wd], [%[w], #" wo "]\n\t"                                                     \
    "sxtb16 %[xe], %[x]\n\t"                                                                     \
    "sxtb16 %[x], %[x], ror #8\n\t"                                                              \
    "smlabb %[a0], %[xe], %[we], %[a0]\n\t"                                                      \
    "smlatt %[a2], %[xe], %[we], %[a2]\n\t"                                                      \
    "smlabb %[a1], %[x], %[wd], %[a1]\n\t"                                                       \
    "smlatt %[a3], %[x], %[wd], %[a3]\n\t"

/* the nine taps of a window at p (columns dx, rows dy bytes apart) into a0..a3: 8 instructions a
   tap with every value in registers (the third column at r + 2 dx by a shifted register offset),
   where the C form spills the steps and loads the weights one word at a time */
#define DW_TAPS9(p, wt, dx, dy)                                                                   \
    do {                                                                                          \
        const int8_t *r_ = (p);                                                                   \
        uint32_t x_, xe_, we_, wd_;                                                               \
        __asm__(DW_TAP_ASM("", "0") DW_TAP_ASM(", %[dx]", "8")                                    \
                    DW_TAP_ASM(", %[dx], lsl #1", "16") "add %[r], %[r], %[dy]\n\t"              \
                    DW_TAP_ASM("", "24") DW_TAP_ASM(", %[dx]", "32")                              \
                        DW_TAP_ASM(", %[dx], lsl #1", "40") "add %[r], %[r], %[dy]\n\t"          \
                            DW_TAP_ASM("", "48") DW_TAP_ASM(", %[dx]", "56")                      \
                                DW_TAP_ASM(", %[dx], lsl #1", "64")                               \
                : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [r] "+r"(r_),       \
                  [x] "=&r"(x_), [xe] "=&r"(xe_), [we] "=&r"(we_), [wd] "=&r"(wd_)                \
                : [w] "r"(wt), [dx] "r"(dx), [dy] "r"(dy),                                        \
                  "m"(*(const uint32_t(*)[9][2])(wt))); /* the input: read-only here */          \
    } while (0)
#else
#define DW_TAPS9(p, wt, dx, dy)                                                                   \
    do {                                                                                          \
        const int8_t *r_ = (p);                                                                   \
        DW_TAP(r_, (wt)[0]);                                                                      \
        DW_TAP(r_ + (dx), (wt)[1]);                                                               \
        DW_TAP(r_ + 2 * (dx), (wt)[2]);                                                           \
        r_ += (dy);                                                                               \
        DW_TAP(r_, (wt)[3]);                                                                      \
        DW_TAP(r_ + (dx), (wt)[4]);                                                               \
        DW_TAP(r_ + 2 * (dx), (wt)[5]);                                                           \
        r_ += (dy);                                                                               \
        DW_TAP(r_, (wt)[6]);                                                                      \
        DW_TAP(r_ + (dx), (wt)[7]);                                                               \
        DW_TAP(r_ + 2 * (dx), (wt)[8]);                                                           \
    } while (0)
#endif

#if defined(VP_DW_ROW)
/* one tap of four channels in dw3x3_row: the input word at r4 + off, its weights at byte wo of
   the group (r6) */
#define DW_ROW_TAP(off, wo)                                                                       \
    "ldr r9, [r4" off "]\n\t"                                                                    \
    "ldrd r11, r12, [r6, #" wo "]\n\t"                                                          \
    "sxtb16 r10, r9\n\t"                                                                         \
    "sxtb16 r9, r9, ror #8\n\t"                                                                  \
    "smlabb r0, r10, r11, r0\n\t"                                                                \
    "smlatt r2, r10, r11, r2\n\t"                                                                \
    "smlabb r1, r9, r12, r1\n\t"                                                                 \
    "smlatt r3, r9, r12, r3\n\t"

/* the doubled form of one sum y with r8 = m, r9 = 2^(r-1) + zp 2^r, r10 = r (the arithmetic of
   kpw's PW_RQ2 on these registers): SMMLAR of 2y gives the addend plus h, the sign of y
   completes RoundingDivideByPOT, the shift by r leaves it plus zp, SSAT to int8 */
#define DW_ROW_RQ(y)                                                                              \
    "ldm r7!, {r8-r10}\n\t"                                                                      \
    "add r11, " y ", " y "\n\t"                                                                  \
    "smmlar r12, r11, r8, r9\n\t"                                                                \
    "add r12, r12, " y ", asr #31\n\t"                                                           \
    "asr " y ", r12, r10\n\t"                                                                    \
    "ssat " y ", #8, " y "\n\t"

#define DW_ROW_CLAMP                                                                              \
    "ldrd r8, r9, [r7, #8]\n\t"                                                                  \
    "ssub8 r10, r0, r8\n\t"                                                                      \
    "sel r0, r0, r8\n\t"                                                                         \
    "ssub8 r10, r9, r0\n\t"                                                                      \
    "sel r0, r0, r9\n\t"

/* n >= 1 pixels of a row (window at p, output at o, then step / ostep on) of a group on the
   doubled form: the nine taps, four requantisations and one word stored with every value in
   registers and no call per pixel (109 instructions a pixel, 114 with a clamp narrower than
   int8's) */
#define DW_ROW_ASM(CLAMP)                                                                         \
    "push {r4-r11, lr}\n\t"                                                                      \
    "mov r6, r0\n\t"                                                                             \
    "mov r4, r1\n\t"                                                                             \
    "mov r5, r2\n\t"                                                                             \
    "mov lr, r3\n"                                                                                \
    "1:\n\t"                                                                                     \
    "ldm r6, {r0-r3, r7, r8}\n\t" /* the sums start at the bias; dx, dy */                      \
    DW_ROW_TAP("", "24") DW_ROW_TAP(", r7", "32") DW_ROW_TAP(", r7, lsl #1", "40")                \
    "add r4, r4, r8\n\t"                                                                         \
    DW_ROW_TAP("", "48") DW_ROW_TAP(", r7", "56") DW_ROW_TAP(", r7, lsl #1", "64")                \
    "add r4, r4, r8\n\t"                                                                         \
    DW_ROW_TAP("", "72") DW_ROW_TAP(", r7", "80") DW_ROW_TAP(", r7, lsl #1", "88")                \
    "add r7, r6, #96\n\t"                                                                        \
    DW_ROW_RQ("r0") DW_ROW_RQ("r1") DW_ROW_RQ("r2") DW_ROW_RQ("r3")                               \
    "bfi r0, r1, #8, #8\n\t"                                                                     \
    "bfi r2, r3, #8, #8\n\t"                                                                     \
    "bfi r0, r2, #16, #16\n\t"                                                                   \
    CLAMP                                                                                         \
    "ldrd r8, r9, [r7]\n\t" /* step, ostep */                                                   \
    "str r0, [r5]\n\t"                                                                           \
    "add r4, r4, r8\n\t"                                                                         \
    "add r5, r5, r9\n\t"                                                                         \
    "subs lr, lr, #1\n\t"                                                                        \
    "bne 1b\n\t"                                                                                 \
    "pop {r4-r11, pc}\n"

__attribute__((naked, noinline)) static void dw3x3_row(const dw_group *g, const int8_t *p,
                                                       int8_t *o, int32_t n) {
    __asm__ volatile(DW_ROW_ASM(""));
}

/* dw3x3_row for bounds narrower than int8's (SSUB8/SEL against lo4, hi4) */
__attribute__((naked, noinline)) static void dw3x3_row_clamp(const dw_group *g, const int8_t *p,
                                                             int8_t *o, int32_t n) {
    __asm__ volatile(DW_ROW_ASM(DW_ROW_CLAMP));
}
#endif

/* 3x3 depthwise over the pixels whose window lies inside the input: four channels at a time
   over every such pixel, so the channels' nine taps of weights are sign-extended once (held in
   a small table beside the registers), their bias, multiplier and shift read once, and each
   pixel's window read through one pointer and constant steps (stride 1 and 2 alike) */
VP_NOINLINE
static void dw3x3_inner(const vp_layer *L, const dw_group *g, int32_t c, uint8_t *a,
                        const int32_t box[4]) {
    int32_t oc_n = W(OC), ic = W(IC), oy, ox, dx = g->dx, dy = g->dy, sx = W(SW) * ic;
    uint32_t zc = g->zc, lo4 = g->lo4, hi4 = g->hi4;
    for (oy = box[0]; oy < box[1]; oy++) {
        const int8_t *p = (const int8_t *)a + W(IN) + c +
                          ((oy * W(SH) - W(PT)) * W(IW) + box[2] * W(SW) - W(PL)) * ic;
        int8_t *o = (int8_t *)a + W(OUT) + (oy * W(OW) + box[2]) * oc_n + c;
#if defined(VP_DW_ROW)
        if (g->dbl) {
            if (lo4 != 0x80808080u || hi4 != 0x7F7F7F7Fu)
                dw3x3_row_clamp(g, p, o, box[3] - box[2]);
            else
                dw3x3_row(g, p, o, box[3] - box[2]);
            continue;
        }
#endif
        for (ox = box[3] - box[2]; ox > 0; ox--, p += sx, o += oc_n) {
            int32_t a0 = g->bias[0], a1 = g->bias[1], a2 = g->bias[2], a3 = g->bias[3];
            DW_TAPS9(p, g->w, dx, dy);
            DW_STORE4(o, g);
        }
    }
}

/* one valid tap of four channels, less the input zero point: (x - zp) * w (zpp: zp in both
   halfwords; the differences fit a halfword, so each product is exact) */
#define DWZ_TAP(x, w)                                                                             \
    do {                                                                                          \
        uint32_t x_ = ld32(x), xe_ = __ssub16(__sxtb16(x_), zpp);                                 \
        uint32_t xo_ = __ssub16(sxtb16_ror8(x_), zpp);                                            \
        a0 = __smlabb(xe_, (w)[0], a0), a2 = __smlatt(xe_, (w)[0], a2);                           \
        a1 = __smlabb(xo_, (w)[1], a1), a3 = __smlatt(xo_, (w)[1], a3);                           \
    } while (0)

/* a border pixel: where its taps inside the input start (bytes from the input tensor and from
   the output tensor, channel 0), how many rows and columns of them, the first one's index */
typedef struct {
    int32_t in, out;
    uint8_t nky, nkx, t0, pad_;
} dw_edge_px;

#define DW_EDGE_BATCH 64 /* border pixels described at once (the descriptions sit on the stack) */

/* the taps k0 <= k < k1 of three (at i0 + k * d) that fall inside [0, n): one run */
static void tap_span(int32_t i0, int32_t d, int32_t n, int32_t *k0, int32_t *k1) {
    int32_t k;
    *k0 = 3, *k1 = 0;
    for (k = 2; k >= 0; k--)
        if (i0 + k * d >= 0 && i0 + k * d < n) *k0 = k, *k1 = *k1 > k ? *k1 : k + 1;
    if (*k1 < *k0) *k1 = *k0;
}

/* up to DW_EDGE_BATCH border pixels from (*oy, *ox) on, raster order, skipping the inner span
   [y0, y1) x [x0, x1); the cursor moves past them; returns how many */
VP_NOINLINE
static int32_t dw_edge_list(const vp_layer *L, const int32_t box[4], int32_t *oy, int32_t *ox,
                            dw_edge_px *d) {
    int32_t n = 0, ic = W(IC), ky0, ky1, kx0, kx1;
    for (; *oy < W(OH) && n < DW_EDGE_BATCH; (*oy)++, *ox = 0) {
        int32_t iy0 = *oy * W(SH) - W(PT), inner = *oy >= box[0] && *oy < box[1];
        tap_span(iy0, W(DH), W(IH), &ky0, &ky1);
        for (; *ox < W(OW) && n < DW_EDGE_BATCH; (*ox)++) {
            int32_t ix0 = *ox * W(SW) - W(PL);
            if (inner && *ox == box[2]) *ox = box[3]; /* dw3x3_inner's */
            if (*ox >= W(OW)) break;
            ix0 = *ox * W(SW) - W(PL);
            tap_span(ix0, W(DW), W(IW), &kx0, &kx1);
            d[n].in = ((iy0 + ky0 * W(DH)) * W(IW) + ix0 + kx0 * W(DW)) * ic;
            d[n].out = (*oy * W(OW) + *ox) * W(OC);
            d[n].nky = (uint8_t)(kx1 > kx0 ? ky1 - ky0 : 0);
            d[n].nkx = (uint8_t)(kx1 - kx0), d[n].t0 = (uint8_t)(3 * ky0 + kx0);
            n++;
        }
        if (*ox < W(OW)) break; /* the batch is full inside this row */
    }
    return n;
}

/* the border pixels of a batch for one group: each over its taps inside the input only. With
   the zero point put back into the bias (bz = bias + zp * sum(w)), a padded tap adds
   (zp - zp) * w = 0 and is skipped: a 2x2 map under a 3x3 window reads 4 taps of 9 */
VP_NOINLINE
static void dw_edge_run(const vp_layer *L, const dw_group *g, const dw_edge_px *d, int32_t n,
                        const int8_t *in, int8_t *out, const rq_t *R) {
    int32_t dx = W(DW) * W(IC), dy = W(DH) * W(IW) * W(IC), zi = W(IN_ZP), ky;
    uint32_t zc = dw_zc(R->zp);
    uint32_t zpp = ((uint32_t)zi & 0xFFFFu) | ((uint32_t)zi << 16);
    uint32_t lo4 = 0x01010101u * (uint8_t)R->lo, hi4 = 0x01010101u * (uint8_t)R->hi;
    for (; n > 0; n--, d++) {
        int32_t a0 = g->bz[0], a1 = g->bz[1], a2 = g->bz[2], a3 = g->bz[3];
        const int8_t *r = in + d->in;
        const uint32_t(*w)[2] = &g->w[d->t0];
        for (ky = d->nky; ky > 0; ky--, r += dy, w += 3) {
            switch (d->nkx) {
                case 3: DWZ_TAP(r + 2 * dx, w[2]); /* fall through */
                case 2: DWZ_TAP(r + dx, w[1]);     /* fall through */
                default: DWZ_TAP(r, w[0]);
            }
        }
#if defined(VP_DW_ROW)
        if (g->dbl) {
            uint32_t w4 = dw_pack4_dbl(a0, a1, a2, a3, g);
            VP_COPY4(out + d->out, &w4);
            continue;
        }
#endif
        DW_STORE4(out + d->out, g);
    }
}

/* border pixels: the bias with the input zero point's share put back (bz = bias + zp sum(w)) */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void dw_group_bz(dw_group *g, int32_t zi) {
    uint32_t se = 0, so = 0; /* the nine taps' weights summed per halfword (< 2^11) */
    int32_t t;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 9
#endif
    for (t = 0; t < 9; t++) se = __sadd16(se, g->w[t][0]), so = __sadd16(so, g->w[t][1]);
    g->bz[0] = (int32_t)((uint32_t)g->bias[0] + (uint32_t)(zi * (int16_t)se));
    g->bz[1] = (int32_t)((uint32_t)g->bias[1] + (uint32_t)(zi * (int16_t)so));
    g->bz[2] = (int32_t)((uint32_t)g->bias[2] + (uint32_t)(zi * ((int32_t)se >> 16)));
    g->bz[3] = (int32_t)((uint32_t)g->bias[3] + (uint32_t)(zi * ((int32_t)so >> 16)));
}

/* 3x3 depthwise on Cortex-M, four channels at a time: the pixels of box (rows box[0..1),
   columns box[2..3): windows inside the input) by dw3x3_inner, the others over batches of
   described pixels (no per-pixel tables). A border that fits one batch is described once and
   run beside the inner pixels of each group (one group load); else the batches run after,
   each over every group, the first as already described. */
static void dw3x3(const vp_model_info *m, const vp_layer *L, const rq_t *R, uint8_t *a,
                  const int32_t box[4]) {
    int32_t oc_n = W(OC), c, n, oy = 0, ox = 0, one;
    const int8_t *in = (const int8_t *)a + W(IN);
    int8_t *out = (int8_t *)a + W(OUT);
    dw_edge_px d[DW_EDGE_BATCH];
    dw_group G;
    G.dx = W(DW) * W(IC), G.dy = W(DH) * W(IW) * W(IC), G.ostep = oc_n;
    G.step = W(SW) * W(IC) - 2 * G.dy, G.zc = dw_zc(R->zp);
    G.lo4 = 0x01010101u * (uint8_t)R->lo, G.hi4 = 0x01010101u * (uint8_t)R->hi;
#if defined(VP_DW_ROW) /* a map without inner pixels (2x2): the check costs what it saves */
    G.dbl = box[0] < box[1] && dw_dbl_ok(m->vpw, L, R);
#else
    G.dbl = 0;
#endif
    n = dw_edge_list(L, box, &oy, &ox, d);
    one = oy >= W(OH);
    for (c = 0; c < oc_n; c += 4) {
        dw_group_load(m->vpw, L, R, c, &G);
        dw3x3_inner(L, &G, c, a, box);
        if (!one || n == 0) continue;
        dw_group_bz(&G, W(IN_ZP));
        dw_edge_run(L, &G, d, n, in + c, out + c, R);
    }
    for (; !one && n > 0; n = dw_edge_list(L, box, &oy, &ox, d)) { /* from the first batch on */
        for (c = 0; c < oc_n; c += 4) {
            dw_group_load(m->vpw, L, R, c, &G);
            dw_group_bz(&G, W(IN_ZP));
            dw_edge_run(L, &G, d, n, in + c, out + c, R);
        }
    }
}
#endif

/* the input offset of each tap of output pixel (oy, ox), -1 where it falls in the padding
   (delta: the taps' offsets from the window's corner) */
static void dw_tap_offsets(const vp_layer *L, int32_t oy, int32_t ox, const int32_t *delta,
                           int32_t *off) {
    int32_t taps = W(KH) * W(KW), ic_n = W(IC), t;
    int32_t iy0 = oy * W(SH) - W(PT), ix0 = ox * W(SW) - W(PL);
    if (iy0 >= 0 && iy0 + (W(KH) - 1) * W(DH) < W(IH) && ix0 >= 0 &&
        ix0 + (W(KW) - 1) * W(DW) < W(IW)) {
        int32_t corner = W(IN) + (iy0 * W(IW) + ix0) * ic_n;
        for (t = 0; t < taps; t++) off[t] = corner + delta[t];
        return;
    }
    for (t = 0; t < taps; t++) {
        int32_t iy = iy0 + (t / W(KW)) * W(DH), ix = ix0 + (t % W(KW)) * W(DW);
        int out = iy < 0 || iy >= W(IH) || ix < 0 || ix >= W(IW);
        off[t] = out ? -1 : W(IN) + (iy * W(IW) + ix) * ic_n;
    }
}

/* one output pixel in portable C: per chunk of channels, per tap, then the vectorised
   requantisation (inside each clone of the caller: widened with its ISA) */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void dw_pixel_c(const vp_model_info *m, const vp_layer *L, const rq_t *R,
                              const uint8_t *a, const int32_t *off, int8_t *o) {
    const uint8_t *v = m->vpw;
    const int8_t *wts = (const int8_t *)v + L->data;
    int32_t oc_n = W(OC), dm = W(DMUL), taps = W(KH) * W(KW), t, c0, j, acc[DW_CHUNK];
    uint32_t q = L->data + (uint32_t)(taps * oc_n);
    for (c0 = 0; c0 < oc_n; c0 += DW_CHUNK) {
        int32_t n = oc_n - c0 < DW_CHUNK ? oc_n - c0 : DW_CHUNK;
        for (j = 0; j < n; j++) acc[j] = vp_rd32(v, q + 4u * (uint32_t)(c0 + j));
        for (t = 0; t < taps; t++) {
            const int8_t *wr = wts + t * oc_n + c0;
            if (off[t] < 0) {
                for (j = 0; j < n; j++) acc[j] += W(IN_ZP) * wr[j];
            } else if (dm == 1) {
                const int8_t *x = (const int8_t *)a + off[t] + c0;
                for (j = 0; j < n; j++) acc[j] += x[j] * wr[j];
            } else {
                const int8_t *x = (const int8_t *)a + off[t];
                for (j = 0; j < n; j++) acc[j] += x[(c0 + j) / dm] * wr[j];
            }
        }
        vp_rq_row(R, c0, n, acc, 0, o);
    }
}

/* DEPTHWISE_CONV_2D, weights [tap][OC]: the 3x3 shape class four channels at a time (inner
   pixels, then the border), any other shape per pixel, per chunk of channels, per tap */
VP_CLONES void vp_depthwise(const vp_model_info *m, const vp_layer *L, uint8_t *a) {
    int32_t oc_n = W(OC), taps = W(KH) * W(KW), oy, ox, t;
    uint32_t q = L->data + (uint32_t)(taps * oc_n);
    rq_t R = rq_init(m->vpw, L, q, oc_n);
    int32_t off[MAX_TAPS], delta[MAX_TAPS];
#if defined(__ARM_FEATURE_DSP)
    if (dw3x3_ok(L, &R)) {
        int32_t box[4];
        inner_span(W(OH), W(IH), W(SH), W(PT), W(DH), &box[0], &box[1]);
        inner_span(W(OW), W(IW), W(SW), W(PL), W(DW), &box[2], &box[3]);
        if (box[0] >= box[1] || box[2] >= box[3]) box[0] = box[1] = 0; /* every pixel border */
        dw3x3(m, L, &R, a, box);
        return;
    }
#endif
    for (t = 0; t < taps; t++) /* tap offsets from the window's corner, once per layer */
        delta[t] = ((t / W(KW)) * W(DH) * W(IW) + (t % W(KW)) * W(DW)) * W(IC);
    for (oy = 0; oy < W(OH); oy++) {
        for (ox = 0; ox < W(OW); ox++) {
            int8_t *o = (int8_t *)a + W(OUT) + (oy * W(OW) + ox) * oc_n;
            dw_tap_offsets(L, oy, ox, delta, off);
#if defined(__ARM_FEATURE_DSP)
            if (W(DMUL) == 1) {
                dw_pixel_dsp(m, L, &R, a, off, o);
                continue;
            }
#endif
            dw_pixel_c(m, L, &R, a, off, o);
        }
    }
}
