/*
 * Internal to the engine: what the CONV_2D / FULLY_CONNECTED kernels (vp_conv.c, vp_conv_dsp.c,
 * vp_conv_host.c) share.
 */
#ifndef VP_CONV_H
#define VP_CONV_H

#include "vp_kernels.h"

static inline int direct_rows(const vp_layer *L) {
    return W(OP) == VP_OP_FULLY_CONNECTED ||
           (W(KH) == 1 && W(KW) == 1 && W(PT) == 0 && W(PL) == 0);
}

/* converters/vpw_lower.py conv_scratch computes the same: the int8 im2col rows unless read in
   place; with P2 = 1 also a 16-byte requantisation entry per channel and the int16 inputs of
   four pixels (quad_rows: four im2col rows too) or two (conv_rows_dsp) */
/* whether a P2 = 1 CONV_2D runs four pixels a pass: rows read in place, or im2col rows of at
   most VP_QUAD_K4 bytes (the first layers of image and audio models: four gathered rows and
   their int16 lanes cost a few hundred bytes of scratch); longer im2col rows two a pass */
#define VP_QUAD_K4 64
static inline int quad_rows(const vp_layer *L, int64_t k4) {
    return direct_rows(L) || k4 <= VP_QUAD_K4;
}

/* whether output pixel (oy, ox)'s window lies inside the input with its taps side by side */
static inline __attribute__((always_inline)) int window_inside(const vp_layer *L, int32_t oy,
                                                             int32_t ox) {
    int32_t iy0 = oy * W(SH) - W(PT), ix0 = ox * W(SW) - W(PL);
    return W(DW) == 1 && iy0 >= 0 && ix0 >= 0 && iy0 + (W(KH) - 1) * W(DH) < W(IH) &&
           ix0 + W(KW) - 1 < W(IW);
}

/* the K-byte input row of output pixel p: in place (1x1, FC) or gathered into buf (im2col) */
const int8_t *vp_input_row(const vp_layer *L, const uint8_t *a, int32_t p, int8_t *buf);

/* the im2col rows of pixels p..p+3 into buf, stride bytes apart (vp_im2col.c) */
void vp_im2col_quad(const vp_layer *L, const uint8_t *a, int32_t p, int8_t *buf, int32_t stride);

#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && defined(__thumb2__)
#define VP_ROWS_DSP 1
/* layout 0 with P2 = 1 on the DSP path: 1 when done, 0 when the layer does not qualify */
int vp_conv_rows_dsp(const vp_model_info *m, const vp_layer *L, uint8_t *a);
#endif

#if defined(__x86_64__) || defined(__aarch64__)
#define VP_ROW16 4608 /* hosts: longest int16 input row kept on the stack (9 KB) */
/* layout 0 on hosts: int16 rows, four channels per pass (vp_conv_host.c) */
void vp_conv_rows16(const vp_model_info *m, const vp_layer *L, uint8_t *a);
#endif

#endif /* VP_CONV_H */
