/*
 * CONV_2D and FULLY_CONNECTED (a 1x1 conv over one pixel), in the layouts the packer chose for
 * the target (docs/vpw.md):
 *
 * - layout 1 (generic, k-major, weights [K][OC]): per pixel, one int32 accumulator per output
 *   channel, the inner loop over contiguous output channels (what GCC/Clang vectorise).
 * - layout 0 (cortex-m, oc-major, weights [OC][stride]): blocked matrix product, two pixels x two
 *   output channels per pass over K; on a core with the DSP extension (__ARM_FEATURE_DSP) four
 *   int8 pairs per SXTB16/SMLAD step, else portable C. Inputs of a 1x1 unpadded conv are read in
 *   place, any other conv goes through an int8 im2col row in the scratch the packer planned.
 *   With P2 = 1 (Cortex-M packs) the DSP build widens the inputs to int16 once per group of
 *   pixels and runs all channels in one Thumb-2 routine (pw_quads, pw_pairs: vp_conv_dsp.c);
 *   hosts run layout 0 through int16 rows (vp_conv_host.c).
 *
 * The input zero point is folded into the bias at pack time (bias - zp * sum(w)), so padded taps
 * read the zero point itself. Sums are taken modulo 2^32: when LiteRT's int32 sum does not
 * overflow (it must not), the rearranged one gives the same value.
 */
#include "vp_conv.h"

#include <string.h>

int64_t vp_weight_bytes(const vp_layer *L) {
    int64_t k = (int64_t)W(KH) * W(KW) * (W(OP) == VP_OP_DEPTHWISE_CONV_2D ? 1 : W(IC));
    if (W(OP) == VP_OP_FULLY_CONNECTED) k = W(IC);
    if (W(OP) == VP_OP_DEPTHWISE_CONV_2D || P(1) == 1) return k * W(OC);
    return (int64_t)W(OC) * W(CH_STRIDE);
}

int64_t vp_scratch_need(const vp_layer *L) {
    int64_t need, k4 = (((int64_t)W(KH) * W(KW) * W(IC)) + 3) & ~(int64_t)3;
    int p2 = W(OP) == VP_OP_CONV_2D && P(2) == 1, quad = p2 && quad_rows(L, k4);
    if (W(OP) == VP_OP_DEPTHWISE_CONV_2D || P(1) == 1) return 0;
    need = direct_rows(L) ? 0 : (quad ? 4 : 2) * (int64_t)W(CH_STRIDE);
    if (p2) need += (quad ? 8 : 4) * k4 + 16 * (int64_t)W(OC);
    return need;
}

/* s[0..3] = r0.w0, r0.w1, r1.w0, r1.w1 over n bytes (n a multiple of 4) */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void dot2x2(const int8_t *r0, const int8_t *r1, const int8_t *w0, const int8_t *w1,
                   int32_t n, uint32_t s[4]) {
    int32_t k;
#if defined(__ARM_FEATURE_DSP)
    int32_t s00 = 0, s01 = 0, s10 = 0, s11 = 0;
    (void)k;
    for (n >>= 2; n > 0; n--) { /* pointer walks and a down-counter keep all in registers */
        uint32_t x0 = ld32(r0), x1 = ld32(r1), a = ld32(w0), b = ld32(w1);
        uint32_t x0e = __sxtb16(x0), x0o = sxtb16_ror8(x0);
        uint32_t x1e = __sxtb16(x1), x1o = sxtb16_ror8(x1);
        uint32_t ae = __sxtb16(a), ao = sxtb16_ror8(a);
        uint32_t be = __sxtb16(b), bo = sxtb16_ror8(b);
        r0 += 4, r1 += 4, w0 += 4, w1 += 4;
        s00 = __smlad(x0e, ae, s00);
        s00 = __smlad(x0o, ao, s00);
        s01 = __smlad(x0e, be, s01);
        s01 = __smlad(x0o, bo, s01);
        s10 = __smlad(x1e, ae, s10);
        s10 = __smlad(x1o, ao, s10);
        s11 = __smlad(x1e, be, s11);
        s11 = __smlad(x1o, bo, s11);
    }
    s[0] = (uint32_t)s00, s[1] = (uint32_t)s01, s[2] = (uint32_t)s10, s[3] = (uint32_t)s11;
#else
    int32_t s00 = 0, s01 = 0, s10 = 0, s11 = 0;
    for (k = 0; k < n; k++) {
        int32_t a = r0[k], b = r1[k], c = w0[k], d = w1[k];
        s00 += a * c, s01 += a * d, s10 += b * c, s11 += b * d;
    }
    s[0] = (uint32_t)s00, s[1] = (uint32_t)s01, s[2] = (uint32_t)s10, s[3] = (uint32_t)s11;
#endif
}

#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && defined(__thumb2__)
/* dot2x2 where the second row and the second channel's weights both lie `stride` bytes after the
   first (two im2col rows of one scratch, a 1x1 conv whose rows are as long as the weight rows):
   one offset register serves both, so all fourteen values stay in registers (what GCC cannot
   find for the C loop: it spills a pointer). Per four int8 pairs of both rows and channels:
   4 loads, 8 SXTB16, 8 SMLAD, the count and the branch. n4 >= 1 steps of 4 bytes. */
/* one step: channel 1's and channel 0's weights, row 1, row 0 (r0 row, r1 weights, r2 stride) */
#define DOT2X2_STEP                                                                               \
    "ldr r9, [r1, r2]\n\t"                                                                        \
    "ldr r8, [r1], #4\n\t"                                                                        \
    "sxtb16 r12, r8\n\t"                                                                          \
    "sxtb16 r8, r8, ror #8\n\t"                                                                   \
    "sxtb16 lr, r9\n\t"                                                                           \
    "sxtb16 r9, r9, ror #8\n\t"                                                                   \
    "ldr r10, [r0, r2]\n\t"                                                                       \
    "sxtb16 r11, r10\n\t"                                                                         \
    "sxtb16 r10, r10, ror #8\n\t"                                                                 \
    "smlad r6, r11, r12, r6\n\t"                                                                  \
    "smlad r6, r10, r8, r6\n\t"                                                                   \
    "smlad r7, r11, lr, r7\n\t"                                                                   \
    "smlad r7, r10, r9, r7\n\t"                                                                   \
    "ldr r10, [r0], #4\n\t"                                                                       \
    "sxtb16 r11, r10\n\t"                                                                         \
    "sxtb16 r10, r10, ror #8\n\t"                                                                 \
    "smlad r4, r11, r12, r4\n\t"                                                                  \
    "smlad r4, r10, r8, r4\n\t"                                                                   \
    "smlad r5, r11, lr, r5\n\t"                                                                   \
    "smlad r5, r10, r9, r5\n\t"

__attribute__((naked, noinline)) static void dot2x2_stride(const int8_t *r0, const int8_t *w0,
                                                           int32_t stride, int32_t n4,
                                                           uint32_t *s) {
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "movs r4, #0\n\t"
        "movs r5, #0\n\t"
        "movs r6, #0\n\t"
        "movs r7, #0\n\t"
        "lsrs r3, r3, #1\n\t" /* pairs of steps; an odd step first */
        "bcc 2f\n\t"
        DOT2X2_STEP
        "cmp r3, #0\n\t"
        "beq 3f\n"
        "2:\n\t"
        DOT2X2_STEP
        DOT2X2_STEP
        "subs r3, r3, #1\n\t"
        "bne 2b\n"
        "3:\n\t"
        "ldr r12, [sp, #36]\n\t" /* s: the fifth argument, above the nine pushed words */
        "stm r12, {r4, r5, r6, r7}\n\t"
        "pop {r4-r11, pc}\n");
}
#define VP_DOT2X2_STRIDE 1
#endif

/* dot2x2 through dot2x2_stride where the rows and the weights lie equally far apart */
static inline void dot2x2_any(const int8_t *r0, const int8_t *r1, const int8_t *w0,
                              const int8_t *w1, int32_t n, uint32_t s[4]) {
#if defined(VP_DOT2X2_STRIDE)
    if (r1 - r0 == w1 - w0) {
        dot2x2_stride(r0, w0, (int32_t)(w1 - w0), n >> 2, s);
        return;
    }
#endif
    dot2x2(r0, r1, w0, w1, n, s);
}

/* sum of an input row (FULLY_CONNECTED with a non-zero filter zero point only) */
static int32_t row_sum(const int8_t *r, int32_t n) {
    int32_t k, s = 0;
    for (k = 0; k < n; k++) s += r[k];
    return s;
}

#if defined(__ARM_FEATURE_DSP)
/* conv_ocmajor's 2x2 block on rq_fast: each channel's multiplier and shift read once */
static inline void rq2x2_dsp(const rq_t *R, int32_t oc, int pair, int two, const uint32_t *s,
                             uint32_t b0, uint32_t b1, int8_t *o0, int8_t *o1) {
    const uint8_t *v = R->v;
    int32_t m0 = vp_rd32(v, R->mult + 4u * (uint32_t)oc), m1 = m0;
    int32_t h0 = -vp_rd32(v, R->shift + 4u * (uint32_t)oc) - 2, h1 = h0;
    if (pair) {
        m1 = vp_rd32(v, R->mult + 4u * (uint32_t)(oc + 1));
        h1 = -vp_rd32(v, R->shift + 4u * (uint32_t)(oc + 1)) - 2;
    }
    o0[oc] = clamp8(rq_fast_r2((int32_t)(s[0] + b0), m0, h0) + R->zp, R->lo, R->hi);
    if (pair) o0[oc + 1] = clamp8(rq_fast_r2((int32_t)(s[1] + b1), m1, h1) + R->zp, R->lo, R->hi);
    if (two) {
        o1[oc] = clamp8(rq_fast_r2((int32_t)(s[2] + b0), m0, h0) + R->zp, R->lo, R->hi);
        if (pair)
            o1[oc + 1] = clamp8(rq_fast_r2((int32_t)(s[3] + b1), m1, h1) + R->zp, R->lo, R->hi);
    }
}

/* layout 0, 1x1 stride 1 (pixel p's row at p * IC), every channel on rq_fast: two output
   channels outer, two pixels inner, each channel's bias, multiplier and shift read once */
static void conv_direct_dsp(const vp_model_info *m, const vp_layer *L, const rq_t *R, uint8_t *a) {
    const uint8_t *v = m->vpw;
    const int8_t *wts = (const int8_t *)v + L->data;
    int32_t oc_n = W(OC), stride = W(CH_STRIDE), n_pix = W(OH) * W(OW), p, oc;
    int32_t k4 = (W(IC) + 3) & ~3, zp = R->zp, lo = R->lo, hi = R->hi;
    uint32_t q = L->data + (uint32_t)(oc_n * stride);
    const int8_t *in = (const int8_t *)a + W(IN);
    for (oc = 0; oc < oc_n; oc += 2) {
        int pair = oc + 1 < oc_n;
        const int8_t *w0 = wts + oc * stride, *w1 = pair ? w0 + stride : w0;
        uint32_t b0 = (uint32_t)vp_rd32(v, q + 4u * (uint32_t)oc), b1 = 0u;
        int32_t m0 = vp_rd32(v, R->mult + 4u * (uint32_t)oc), m1 = m0;
        int32_t r0 = -vp_rd32(v, R->shift + 4u * (uint32_t)oc) - 2, r1 = r0;
        int8_t *o = (int8_t *)a + W(OUT) + oc;
        if (pair) {
            b1 = (uint32_t)vp_rd32(v, q + 4u * (uint32_t)(oc + 1));
            m1 = vp_rd32(v, R->mult + 4u * (uint32_t)(oc + 1));
            r1 = -vp_rd32(v, R->shift + 4u * (uint32_t)(oc + 1)) - 2;
        }
        for (p = 0; p < n_pix; p += 2, o += 2 * oc_n) {
            int two = p + 1 < n_pix;
            const int8_t *x0 = in + p * W(IC), *x1 = two ? x0 + W(IC) : x0;
            uint32_t s[4];
            dot2x2_any(x0, x1, w0, w1, k4, s);
            o[0] = clamp8(rq_fast_r2((int32_t)(s[0] + b0), m0, r0) + zp, lo, hi);
            if (pair) o[1] = clamp8(rq_fast_r2((int32_t)(s[1] + b1), m1, r1) + zp, lo, hi);
            if (two) {
                o[oc_n] = clamp8(rq_fast_r2((int32_t)(s[2] + b0), m0, r0) + zp, lo, hi);
                if (pair)
                    o[oc_n + 1] = clamp8(rq_fast_r2((int32_t)(s[3] + b1), m1, r1) + zp, lo, hi);
            }
        }
    }
}

#endif

/* layout 0: two pixels x two output channels per pass */
static void conv_ocmajor(const vp_model_info *m, const vp_layer *L, uint8_t *a) {
    const uint8_t *v = m->vpw;
    const int8_t *wts = (const int8_t *)v + L->data;
    int32_t oc_n = W(OC), stride = W(CH_STRIDE), n_pix = W(OH) * W(OW), p, oc;
    int32_t kn = (W(OP) == VP_OP_FULLY_CONNECTED ? 1 : W(KH) * W(KW)) * W(IC), k4 = (kn + 3) & ~3;
    uint32_t q = L->data + (uint32_t)(oc_n * stride);
    rq_t R;
    int8_t *buf = (int8_t *)a + W(SCRATCH);
#if defined(VP_ROWS_DSP) /* its table checks what rq_init's would: no second pass */
    if (P(0) == 0 && P(2) == 1 && W(OP) == VP_OP_CONV_2D && (oc_n & 1) == 0 &&
        W(IN2_ZP) == 0 && vp_conv_rows_dsp(m, L, a))
        return;
#endif
    R = rq_init(v, L, q, oc_n);
#if defined(__ARM_FEATURE_DSP)
    if (R.fast && direct_rows(L) && W(IN2_ZP) == 0 && W(SH) == 1 && W(SW) == 1 &&
        W(OW) == W(IW)) {
        conv_direct_dsp(m, L, &R, a);
        return;
    }
#endif
    if (!direct_rows(L)) memset(buf, 0, (size_t)(2 * stride));
    for (p = 0; p < n_pix; p += 2) {
        int two = p + 1 < n_pix;
        const int8_t *r0 = vp_input_row(L, a, p, buf);
        const int8_t *r1 = two ? vp_input_row(L, a, p + 1, buf + stride) : r0;
        int8_t *o0 = (int8_t *)a + W(OUT) + p * oc_n, *o1 = o0 + oc_n;
        int32_t zs0 = 0, zs1 = 0;
        if (W(IN2_ZP) != 0) zs0 = W(IN2_ZP) * row_sum(r0, kn), zs1 = W(IN2_ZP) * row_sum(r1, kn);
        for (oc = 0; oc < oc_n; oc += 2) {
            int pair = oc + 1 < oc_n;
            const int8_t *w0 = wts + oc * stride, *w1 = pair ? w0 + stride : w0;
            uint32_t s[4];
            uint32_t b0 = (uint32_t)vp_rd32(v, q + 4u * (uint32_t)oc);
            uint32_t b1 = pair ? (uint32_t)vp_rd32(v, q + 4u * (uint32_t)(oc + 1)) : 0u;
            dot2x2_any(r0, r1, w0, w1, k4, s);
#if defined(__ARM_FEATURE_DSP)
            if (R.fast && (zs0 | zs1) == 0) {
                rq2x2_dsp(&R, oc, pair, two, s, b0, b1, o0, o1);
                continue;
            }
#endif
            o0[oc] = rq(&R, oc, (int32_t)(s[0] + b0 - (uint32_t)zs0));
            if (pair) o0[oc + 1] = rq(&R, oc + 1, (int32_t)(s[1] + b1 - (uint32_t)zs0));
            if (two) {
                o1[oc] = rq(&R, oc, (int32_t)(s[2] + b0 - (uint32_t)zs1));
                if (pair)
                    o1[oc + 1] = rq(&R, oc + 1, (int32_t)(s[3] + b1 - (uint32_t)zs1));
            }
        }
    }
}

/* layout 1: per pixel and chunk of output channels, acc[oc] += x[k] * w[k][oc] */
VP_CLONES static void conv_kmajor(const vp_model_info *m, const vp_layer *L, uint8_t *a) {
    const uint8_t *v = m->vpw;
    const int8_t *wts = (const int8_t *)v + L->data;
    int32_t oc_n = W(OC), ic_n = W(IC), oy, ox, ky, kx, ic, c0, j;
    int32_t kn = (W(OP) == VP_OP_FULLY_CONNECTED ? 1 : W(KH) * W(KW)) * ic_n;
    uint32_t q = L->data + (uint32_t)(kn * oc_n);
    rq_t R = rq_init(v, L, q, oc_n);
    int32_t acc[DW_CHUNK];
    for (oy = 0; oy < W(OH); oy++) {
        for (ox = 0; ox < W(OW); ox++) {
            int8_t *o = (int8_t *)a + W(OUT) + (oy * W(OW) + ox) * oc_n;
            int32_t zs = 0;
            if (W(IN2_ZP) != 0)
                zs = W(IN2_ZP) * row_sum((const int8_t *)a + W(IN), kn); /* FC: one pixel */
            for (c0 = 0; c0 < oc_n; c0 += DW_CHUNK) {
                int32_t n = oc_n - c0 < DW_CHUNK ? oc_n - c0 : DW_CHUNK;
                for (j = 0; j < n; j++) acc[j] = vp_rd32(v, q + 4u * (uint32_t)(c0 + j));
                for (ky = 0; ky < W(KH); ky++) {
                    int32_t iy = oy * W(SH) - W(PT) + ky * W(DH);
                    for (kx = 0; kx < W(KW); kx++) {
                        int32_t ix = ox * W(SW) - W(PL) + kx * W(DW);
                        int inb = iy >= 0 && iy < W(IH) && ix >= 0 && ix < W(IW);
                        const int8_t *x = (const int8_t *)a + W(IN) + (iy * W(IW) + ix) * ic_n;
                        const int8_t *wr = wts + (ky * W(KW) + kx) * ic_n * oc_n + c0;
                        for (ic = 0; ic < ic_n; ic++, wr += oc_n) {
                            int32_t xv = inb ? x[ic] : W(IN_ZP);
                            for (j = 0; j < n; j++)
                                acc[j] = (int32_t)((uint32_t)acc[j] + (uint32_t)(xv * wr[j]));
                        }
                    }
                }
                vp_rq_row(&R, c0, n, acc, zs, o);
            }
        }
    }
}

void vp_conv(const vp_model_info *m, const vp_layer *L, uint8_t *a) {
    if (P(1) == 1)
        conv_kmajor(m, L, a);
#if defined(VP_ROW16)
    else if ((W(OP) == VP_OP_FULLY_CONNECTED ? 1 : W(KH) * W(KW)) * W(IC) <= VP_ROW16)
        vp_conv_rows16(m, L, a);
#endif
    else
        conv_ocmajor(m, L, a);
}
