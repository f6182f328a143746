/*
 * CONV_2D in layout 0 on hosts (x86-64, AArch64): per pixel pair one int16 row, four output
 * channels per pass over K, then the vectorised requantisation of a chunk of channels.
 */
#include "vp_conv.h"

#if defined(__x86_64__) || defined(__aarch64__)
#define VP_ROW16 4608 /* hosts: longest int16 input row kept on the stack (9 KB) */

/* s[0..3] = r . w0..w3 over n values: an int16 row times int8 weights, summed in int32 (the
   products fit int16 x int16 -> int32 pairs: what pmaddwd / smlal-by-lane vectorise) */
static inline void dot1x4(const int16_t *r, const int8_t *w0, const int8_t *w1, const int8_t *w2,
                          const int8_t *w3, int32_t n, int32_t *s, int32_t *t) {
    int32_t k, s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (k = 0; k < n; k++) {
        int16_t x = r[k];
        s0 += x * (int16_t)w0[k], s1 += x * (int16_t)w1[k];
        s2 += x * (int16_t)w2[k], s3 += x * (int16_t)w3[k];
    }
    s[0] = s0, s[1] = s1, s[2] = s2, s[3] = s3;
    (void)t;
}

/* the same for two rows: s[0..3] from r0, t[0..3] from r1 (each weight load feeds both) */
static inline void dot2x4(const int16_t *r0, const int16_t *r1, const int8_t *w0, const int8_t *w1,
                          const int8_t *w2, const int8_t *w3, int32_t n, int32_t *s, int32_t *t) {
    int32_t k, s0 = 0, s1 = 0, s2 = 0, s3 = 0, t0 = 0, t1 = 0, t2 = 0, t3 = 0;
    for (k = 0; k < n; k++) {
        int16_t x = r0[k], y = r1[k], a = w0[k], b = w1[k], c = w2[k], d = w3[k];
        s0 += x * a, s1 += x * b, s2 += x * c, s3 += x * d;
        t0 += y * a, t1 += y * b, t2 += y * c, t3 += y * d;
    }
    s[0] = s0, s[1] = s1, s[2] = s2, s[3] = s3, t[0] = t0, t[1] = t1, t[2] = t2, t[3] = t3;
}

/* pixel p's K inputs widened to int16 (padding taps read the input zero point) */
#if defined(__GNUC__)
__attribute__((always_inline)) /* inside each clone of the caller: widened with its ISA */
#endif
static inline void row16(const vp_layer *L, const uint8_t *a, int32_t p, int16_t *r) {
    int32_t oy = p / W(OW), ox = p % W(OW), ky, kx, ic = W(IC), k;
    if (direct_rows(L)) {
        const int8_t *x = (const int8_t *)a + W(IN) + (oy * W(SH) * W(IW) + ox * W(SW)) * ic;
        for (k = 0; k < ic; k++) r[k] = x[k];
        return;
    }
    for (ky = 0; ky < W(KH); ky++) {
        int32_t iy = oy * W(SH) - W(PT) + ky * W(DH);
        for (kx = 0; kx < W(KW); kx++, r += ic) {
            int32_t ix = ox * W(SW) - W(PL) + kx * W(DW);
            const int8_t *x = (const int8_t *)a + W(IN) + (iy * W(IW) + ix) * ic;
            if (iy < 0 || iy >= W(IH) || ix < 0 || ix >= W(IW))
                for (k = 0; k < ic; k++) r[k] = (int16_t)W(IN_ZP);
            else
                for (k = 0; k < ic; k++) r[k] = x[k];
        }
    }
}

/* layout 0 on hosts: per pixel one int16 row, four output channels per pass over K, then the
   vectorised requantisation of a chunk of channels */
VP_CLONES void vp_conv_rows16(const vp_model_info *m, const vp_layer *L, uint8_t *a) {
    const uint8_t *v = m->vpw;
    const int8_t *wts = (const int8_t *)v + L->data;
    int32_t oc_n = W(OC), stride = W(CH_STRIDE), n_pix = W(OH) * W(OW), p, i, c0, j, k;
    int32_t kn = (W(OP) == VP_OP_FULLY_CONNECTED ? 1 : W(KH) * W(KW)) * W(IC);
    uint32_t q = L->data + (uint32_t)(oc_n * stride);
    rq_t R = rq_init(v, L, q, oc_n);
    int16_t r[2][VP_ROW16 + 16];
    int32_t acc[2][DW_CHUNK], zs[2] = {0, 0};
    /* rows zero-padded to a multiple of 16 values (no scalar tail): the padding multiplies
       whatever bytes follow a weight row, in bounds while the layer's data covers the reads */
    int32_t kp = (kn + 15) & ~15;
    if ((int64_t)stride + 12 * (int64_t)oc_n < kp) kp = kn;
    for (k = kn; k < kp; k++) r[0][k] = r[1][k] = 0;
    for (p = 0; p < n_pix; p += 2) {
        int32_t two = p + 1 < n_pix;
        for (i = 0; i <= two; i++) {
            row16(L, a, p + i, r[i]);
            if (W(IN2_ZP) != 0) {
                for (zs[i] = 0, k = 0; k < kn; k++) zs[i] += r[i][k];
                zs[i] *= W(IN2_ZP);
            }
        }
        for (c0 = 0; c0 < oc_n; c0 += DW_CHUNK) {
            int32_t n = oc_n - c0 < DW_CHUNK ? oc_n - c0 : DW_CHUNK;
            const int8_t *w = wts + c0 * stride;
            for (j = 0; j < n; j += 4, w += 4 * stride) {
                int32_t left = n - j < 4 ? n - j : 4; /* past the last channel: read row 0 again */
                const int8_t *w1 = left > 1 ? w + stride : w, *w2 = left > 2 ? w + 2 * stride : w;
                const int8_t *w3 = left > 3 ? w + 3 * stride : w;
                /* straight into the accumulators (j + 4 <= DW_CHUNK): a copy through a small
                   array would load 8 bytes that two 4-byte stores just wrote (no forwarding) */
                if (two)
                    dot2x4(r[0], r[1], w, w1, w2, w3, kp, acc[0] + j, acc[1] + j);
                else
                    dot1x4(r[0], w, w1, w2, w3, kp, acc[0] + j, acc[1] + j);
            }
            for (i = 0; i <= two; i++) {
                for (j = 0; j < n; j++) /* + bias */
                    acc[i][j] = (int32_t)((uint32_t)acc[i][j] +
                                          (uint32_t)vp_rd32(v, q + 4u * (uint32_t)(c0 + j)));
                vp_rq_row(&R, c0, n, acc[i], zs[i], (int8_t *)a + W(OUT) + (p + i) * oc_n);
            }
        }
    }
}
#endif
