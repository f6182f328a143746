/*
 * The input row of a conv's output pixel: read in place (1x1 unpadded, FULLY_CONNECTED) or
 * gathered (im2col) into the scratch, padded taps reading the input zero point; shared by the
 * portable kernels (vp_conv.c) and the Cortex-M DSP ones (vp_conv_dsp.c), which also gather
 * four short rows at once (vp_im2col_quad).
 */
#include "vp_conv.h"

#include <string.h>

/* the K-byte input row of output pixel p: in place (1x1, FC) or gathered into buf (im2col) */
const int8_t *vp_input_row(const vp_layer *L, const uint8_t *a, int32_t p, int8_t *buf) {
    int32_t oy = p / W(OW), ox = p % W(OW), ky, kx, ic = W(IC);
    int8_t *o = buf;
    if (direct_rows(L)) return (const int8_t *)a + W(IN) + (oy * W(SH) * W(IW) + ox * W(SW)) * ic;
    if (window_inside(L, oy, ox)) { /* each kernel row's taps lie side by side in the input */
        /* locals: the stores below may alias the descriptor, whose words would be reloaded */
        int32_t n = W(KW) * ic, kh = W(KH), step = W(DH) * W(IW) * ic, k;
        const uint8_t *x = a + W(IN) + ((oy * W(SH) - W(PT)) * W(IW) + ox * W(SW) - W(PL)) * ic;
        for (ky = 0; ky < kh; ky++, o += n, x += step)
            for (k = 0; k < n; k += 4) { /* whole words: up to 3 bytes past the row's end are
                                            read (arena slack) and rewritten (next row, slack) */
                uint32_t t = ld32((const int8_t *)x + k);
                VP_COPY4(o + k, &t);
            }
        return buf;
    }
    for (ky = 0; ky < W(KH); ky++) {
        int32_t iy = oy * W(SH) - W(PT) + ky * W(DH);
        for (kx = 0; kx < W(KW); kx++, o += ic) {
            int32_t ix = ox * W(SW) - W(PL) + kx * W(DW);
            int out = iy < 0 || iy >= W(IH) || ix < 0 || ix >= W(IW);
            if (ic == 1) /* one byte: no call */
                o[0] = out ? (int8_t)W(IN_ZP) : (int8_t)a[W(IN) + iy * W(IW) + ix];
            else if (out)
                memset(o, (uint8_t)W(IN_ZP), (size_t)ic);
            else
                memcpy(o, a + W(IN) + (iy * W(IW) + ix) * ic, (size_t)ic);
        }
    }
    return buf;
}

/* the im2col rows of pixels p..p+3 into buf, stride bytes apart: where the four windows lie
   inside the input on one output row, each kernel row's taps copied in whole words with the
   layer's geometry read once (input_row's bookkeeping per pixel cost more than its copy) */
void vp_im2col_quad(const vp_layer *L, const uint8_t *a, int32_t p, int8_t *buf, int32_t stride) {
    int32_t ow = W(OW), oy = p / ow, ox = p % ow, ic = W(IC), i, ky, k;
    if (ox + 3 < ow && window_inside(L, oy, ox) && window_inside(L, oy, ox + 3)) {
        /* locals: the stores below may alias the descriptor, whose words would be reloaded */
        int32_t n = W(KW) * ic, kh = W(KH), step = W(DH) * W(IW) * ic, dx = W(SW) * ic;
        const uint8_t *x0 = a + W(IN) + ((oy * W(SH) - W(PT)) * W(IW) + ox * W(SW) - W(PL)) * ic;
        for (i = 0; i < 4; i++, x0 += dx, buf += stride) {
            const uint8_t *x = x0;
            int8_t *o = buf;
            for (ky = 0; ky < kh; ky++, o += n, x += step)
                for (k = 0; k < n; k += 4) { /* as input_row: up to 3 bytes past a row */
                    uint32_t t = ld32((const int8_t *)x + k);
                    VP_COPY4(o + k, &t);
                }
        }
        return;
    }
    for (i = 0; i < 4; i++) vp_input_row(L, a, p + i, buf + i * stride);
}
