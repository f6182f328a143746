/*
 * The engine's operators other than the multiply-accumulate layers (vp_kernels.c): ADD, the
 * poolings, MEAN, PAD, SOFTMAX, nearest resize, the element-wise table, MUL and the block copy.
 * Each reproduces LiteRT's reference kernel bit for bit on a layer vp_engine_check accepted.
 */
#include "vp_engine_ops.h"

#include <string.h>

#define I32_MIN ((int32_t)(-2147483647 - 1))
#define I32_MAX ((int32_t)2147483647)

static int32_t s8(uint8_t v) { return (int32_t)v - ((v & 0x80u) ? 256 : 0); }

static uint8_t u8(int32_t v) { return (uint8_t)(v & 0xFF); }

static int32_t clamp(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

typedef vp_layer layer_t;

#define POOL_CHUNK 64 /* channels a pooled pixel sums at once (running values on the stack) */

/* each input's rescaled value depends on its byte alone: on large tensors two 256-entry tables
   per call (exactly the reference's arithmetic), then one requantisation per output. The tables
   cost 2 x 256 rescalings, the direct path 3 per element: tables from 256 elements on */
#define ADD_TABLES_MIN 256
void vp_op_add(const layer_t *L, uint8_t *a) {
    int32_t t1[256], t2[256];
    if (W(COUNT) < ADD_TABLES_MIN) {
        vp_add_direct((const int8_t *)a + W(IN), (const int8_t *)a + W(IN2), (int8_t *)a + W(OUT),
                      W(COUNT), &P(0), W(IN_ZP), W(IN2_ZP), W(OUT_ZP), W(ACT_MIN), W(ACT_MAX));
        return;
    }
    vp_add_table(t1, W(IN_ZP), P(0), P(1), P(2));
    vp_add_table(t2, W(IN2_ZP), P(0), P(3), P(4));
    vp_add_tables(t1, t2, a + W(IN), a + W(IN2), a + W(OUT), W(COUNT), P(5), P(6), W(OUT_ZP),
                  W(ACT_MIN), W(ACT_MAX));
}

/* the window's first and one-past-last tap inside [0, n) along one axis (i0: its first tap) */
static void pool_span(int32_t i0, int32_t k, int32_t n, int32_t *k0, int32_t *k1) {
    *k0 = i0 < 0 ? -i0 : 0;
    *k1 = n - i0 < k ? n - i0 : k;
    if (*k1 < *k0) *k1 = *k0;
}

/* one output pixel, channels c0 .. c0 + n - 1: the window clipped to the input once, then the
   channels innermost (one running value per channel over contiguous bytes) */
static void pool_px(const layer_t *L, uint8_t *a, int32_t oy, int32_t ox, int32_t c0, int32_t n,
                    int is_max) {
    int32_t y0 = oy * W(SH) - W(PT), x0 = ox * W(SW) - W(PL), ky0, ky1, kx0, kx1, ky, kx, j;
    int32_t acc[POOL_CHUNK], count, lo = W(ACT_MIN), hi = W(ACT_MAX);
    uint8_t *o = a + W(OUT) + (oy * W(OW) + ox) * W(OC) + c0;
    pool_span(y0, W(KH), W(IH), &ky0, &ky1);
    pool_span(x0, W(KW), W(IW), &kx0, &kx1);
    count = (ky1 - ky0) * (kx1 - kx0);
    for (j = 0; j < n; j++) acc[j] = is_max ? -128 : 0;
    for (ky = ky0; ky < ky1; ky++) {
        for (kx = kx0; kx < kx1; kx++) {
            const int8_t *x =
                (const int8_t *)a + W(IN) + ((y0 + ky) * W(IW) + x0 + kx) * W(IC) + c0;
            if (is_max)
                for (j = 0; j < n; j++) acc[j] = x[j] > acc[j] ? x[j] : acc[j];
            else
                for (j = 0; j < n; j++) acc[j] += x[j];
        }
    }
    for (j = 0; j < n; j++) {
        int32_t r = acc[j];
        if (!is_max && count > 0)
            r = r > 0 ? (r + count / 2) / count : (r - count / 2) / count;
        o[j] = u8(clamp(r, lo, hi));
    }
}

void vp_op_pool(const layer_t *L, uint8_t *a, int is_max) {
    int32_t oy, ox, c0;
    for (oy = 0; oy < W(OH); oy++)
        for (ox = 0; ox < W(OW); ox++)
            for (c0 = 0; c0 < W(OC); c0 += POOL_CHUNK)
                pool_px(L, a, oy, ox, c0, W(OC) - c0 < POOL_CHUNK ? W(OC) - c0 : POOL_CHUNK,
                        is_max);
}

void vp_op_mean(const layer_t *L, uint8_t *a) {
    int32_t n = W(IH) * W(IW), c, i, acc;
    for (c = 0; c < W(IC); c++) {
        acc = 0;
        for (i = 0; i < n; i++) acc += s8(a[(uint32_t)(W(IN) + i * W(IC) + c)]) - W(IN_ZP);
        acc = vp_mbqm(acc, P(0), P(1));
        if (P(2) == 1) acc = acc > 0 ? (acc + n / 2) / n : (acc - n / 2) / n;
        a[(uint32_t)(W(OUT) + c)] = u8(clamp(acc + W(OUT_ZP), -128, 127));
    }
}

void vp_op_pad(const layer_t *L, uint8_t *a) {
    int32_t y, x, c;
    for (y = 0; y < W(OH); y++) {
        for (x = 0; x < W(OW); x++) {
            for (c = 0; c < W(OC); c++) {
                int32_t iy = y - W(PT), ix = x - W(PL), ic = c - P(1);
                uint8_t val = u8(P(0));
                if (iy >= 0 && iy < W(IH) && ix >= 0 && ix < W(IW) && ic >= 0 && ic < W(IC))
                    val = a[(uint32_t)(W(IN) + (iy * W(IW) + ix) * W(IC) + ic)];
                a[(uint32_t)(W(OUT) + (y * W(OW) + x) * W(OC) + c)] = val;
            }
        }
    }
}

/* ---- TFLite's fixed-point int8 softmax (reference_ops::Softmax), gemmlowp arithmetic ---- */

/* CountLeadingZeros of a 32-bit value (32 for 0) */
static int32_t clz32(uint32_t x) {
    int32_t n = 0;
    int i;
    for (i = 31; i >= 0; i--) {
        if ((x >> i) & 1u) break;
        n++;
    }
    return n;
}

/* gemmlowp SaturatingRoundingMultiplyByPOT for a positive exponent: saturating left shift */
static int32_t sat_shl(int32_t x, int32_t e) {
    int64_t v = (int64_t)x * ((int64_t)1 << e);
    return v > (int64_t)I32_MAX ? I32_MAX : (v < (int64_t)I32_MIN ? I32_MIN : (int32_t)v);
}

/* gemmlowp RoundingHalfSum */
static int32_t rounding_half_sum(int32_t a, int32_t b) {
    int64_t s = (int64_t)a + (int64_t)b;
    return (int32_t)((s + (s >= 0 ? 1 : -1)) / 2);
}

/* exp(a) for a in [-1/4, 0), a and the result in Q0.31 */
static int32_t exp_quarter(int32_t a) {
    const int32_t c_exp_m1_8 = 1895147668; /* exp(-1/8) */
    const int32_t c_1_3 = 715827883;       /* 1/3 */
    int32_t x = a + (1 << 28);             /* x = a + 1/8 */
    int32_t x2 = vp_srdhm(x, x), x3 = vp_srdhm(x2, x), x4 = vp_srdhm(x2, x2);
    int32_t poly = vp_rdpot(vp_srdhm(vp_rdpot(x4, 2) + x3, c_1_3) + x2, 1);
    return c_exp_m1_8 + vp_srdhm(c_exp_m1_8, x + poly);
}

/* exp(a) for a <= 0 in Q5.26, result in Q0.31 (gemmlowp exp_on_negative_values) */
static int32_t exp_negative(int32_t a) {
    static const int32_t mult[7] = {1672461947, 1302514674, 790015084, 290630308,
                                    39332535,   720401,     242};
    const int32_t quarter = 1 << 24;
    int32_t mod = (a & (quarter - 1)) - quarter;
    int32_t result = exp_quarter(sat_shl(mod, 5));
    int32_t rem = mod - a;
    int k;
    for (k = 0; k < 7; k++) /* exponents -2 .. +4: bit 26 + exponent of the remainder */
        if (rem & (1 << (24 + k))) result = vp_srdhm(result, mult[k]);
    return a == 0 ? I32_MAX : result;
}

/* 1 / (1 + a) for a in [0, 1) in Q0.31, Newton-Raphson in Q2.29, result in Q0.31 */
static int32_t one_over_one_plus_x(int32_t a) {
    int32_t half_den = rounding_half_sum(a, I32_MAX);
    int32_t x = 1515870810 + vp_srdhm(half_den, -1010580540); /* 48/17 - 32/17 * d */
    int i;
    for (i = 0; i < 3; i++) {
        int32_t one_minus = (1 << 29) - vp_srdhm(half_den, x);
        x = x + sat_shl(vp_srdhm(x, one_minus), 2);
    }
    return sat_shl(x, 1);
}

/* TFLite GetReciprocal: 1/x for x with x_int_bits integer bits; Q0.31 and the extra shift */
static int32_t get_reciprocal(int32_t x, int32_t x_int_bits, int32_t *bits_over_unit) {
    int32_t headroom = clz32((uint32_t)x);
    *bits_over_unit = x_int_bits - headroom;
    return one_over_one_plus_x((int32_t)(((uint32_t)x << headroom) - 0x80000000u));
}

/* P0 input multiplier, P1 input left shift, P2 diff_min; output scale 1/256, zero point -128 */
void vp_op_softmax(const vp_model_info *m, const layer_t *L, uint8_t *a) {
    int32_t depth = W(OC), rows = W(COUNT) / W(OC), r, j;
    (void)m;
    for (r = 0; r < rows; r++) {
        uint32_t base_in = (uint32_t)(W(IN) + r * depth), base_out = (uint32_t)(W(OUT) + r * depth);
        int32_t mx = -128, sum = 0, scale, bits;
        for (j = 0; j < depth; j++) {
            int32_t x = s8(a[base_in + (uint32_t)j]);
            mx = x > mx ? x : mx;
        }
        for (j = 0; j < depth; j++) {
            int32_t diff = s8(a[base_in + (uint32_t)j]) - mx;
            if (diff >= P(2))
                sum += vp_rdpot(exp_negative(vp_srdhm((int32_t)((uint32_t)diff << P(1)), P(0))), 12);
        }
        scale = get_reciprocal(sum, 12, &bits);
        for (j = 0; j < depth; j++) {
            int32_t diff = s8(a[base_in + (uint32_t)j]) - mx, v = -128;
            if (diff >= P(2)) {
                int32_t e = exp_negative(vp_srdhm((int32_t)((uint32_t)diff << P(1)), P(0)));
                v = clamp(vp_rdpot(vp_srdhm(scale, e), bits + 31 - 8) - 128, -128, 127);
            }
            a[base_out + (uint32_t)j] = u8(v);
        }
    }
}

void vp_op_resize_nearest(const vp_model_info *m, const layer_t *L, uint8_t *a) {
    int32_t y, x, c;
    for (y = 0; y < W(OH); y++) {
        int32_t iy = vp_rd32(m->vpw, L->data + 4u * (uint32_t)y);
        for (x = 0; x < W(OW); x++) {
            int32_t ix = vp_rd32(m->vpw, L->data + 4u * (uint32_t)(W(OH) + x));
            for (c = 0; c < W(OC); c++)
                a[(uint32_t)(W(OUT) + (y * W(OW) + x) * W(OC) + c)] =
                    a[(uint32_t)(W(IN) + (iy * W(IW) + ix) * W(IC) + c)];
        }
    }
}

/* element-wise table: data holds 256 output bytes indexed by the input byte (pack-time exact) */
void vp_op_lut(const vp_model_info *m, const layer_t *L, uint8_t *a) {
    const uint8_t *t = m->vpw + L->data;
    int32_t i;
    for (i = 0; i < W(COUNT); i++) a[(uint32_t)(W(OUT) + i)] = t[a[(uint32_t)(W(IN) + i)]];
}

/* int8 MUL with broadcasting: P0/P1 multiplier/shift, P2..P4 input-1 strides (y, x, c),
   P5..P7 input-2 strides, over the output shape (oh, ow, oc) */
void vp_op_mul(const layer_t *L, uint8_t *a) {
    int32_t y, x, c;
    for (y = 0; y < W(OH); y++) {
        for (x = 0; x < W(OW); x++) {
            uint32_t i1 = (uint32_t)(W(IN) + y * P(2) + x * P(3));
            uint32_t i2 = (uint32_t)(W(IN2) + y * P(5) + x * P(6));
            uint32_t o = (uint32_t)(W(OUT) + (y * W(OW) + x) * W(OC));
            for (c = 0; c < W(OC); c++) {
                int32_t v1 = s8(a[i1 + (uint32_t)(c * P(4))]) - W(IN_ZP);
                int32_t v2 = s8(a[i2 + (uint32_t)(c * P(7))]) - W(IN2_ZP);
                int32_t r = vp_mbqm(v1 * v2, P(0), P(1)) + W(OUT_ZP);
                a[o + (uint32_t)c] = u8(clamp(r, W(ACT_MIN), W(ACT_MAX)));
            }
        }
    }
}

/* P0 rows of P1 contiguous bytes from `in`, to `out` + P3 + row * P2 */
void vp_op_copy(const layer_t *L, uint8_t *a) {
    int32_t r;
    for (r = 0; r < P(0); r++)
        memmove(a + W(OUT) + P(3) + r * P(2), a + W(IN) + r * P(1), (size_t)P(1));
}
