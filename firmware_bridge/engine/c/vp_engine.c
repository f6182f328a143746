/*
 * vp_engine: int8 kernels that reproduce LiteRT's reference kernels bit for bit.
 * Model bytes are read with explicit little-endian loads (no casts of the buffer), the
 * activation arena is a plain byte array indexed by the offsets the converter planned.
 */
#include "vp_engine.h"
#include "vp_kernels.h"

#include <string.h>

#define I32_MIN ((int32_t)(-2147483647 - 1))
#define I32_MAX ((int32_t)2147483647)


static int32_t s8(uint8_t v) { return (int32_t)v - ((v & 0x80u) ? 256 : 0); }

static uint8_t u8(int32_t v) { return (uint8_t)(v & 0xFF); }

static int32_t clamp(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

typedef vp_layer layer_t;

#define POOL_CHUNK 64 /* channels a pooled pixel sums at once (its running values sit on the stack) */

static void load_layer(const vp_model_info *m, uint32_t i, layer_t *L) {
    uint32_t base = m->layers_offset + i * (uint32_t)(VP_DESC_WORDS * 4);
    int k;
    for (k = 0; k < VP_DESC_WORDS; k++) L->w[k] = vp_rd32(m->vpw, base + 4u * (uint32_t)k);
    L->data = m->data_offset + (uint32_t)L->w[VP_W_DATA];
}


/* each input's rescaled value depends on its byte alone: on large tensors two 256-entry tables
   per call (exactly the reference's arithmetic), then one requantisation per output. The tables
   cost 2 x 256 rescalings, the direct path 3 per element: tables from 256 elements on */
#define ADD_TABLES_MIN 256
static void add(const layer_t *L, uint8_t *a) {
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
            const int8_t *x = (const int8_t *)a + W(IN) + ((y0 + ky) * W(IW) + x0 + kx) * W(IC) + c0;
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

static void pool(const layer_t *L, uint8_t *a, int is_max) {
    int32_t oy, ox, c0;
    for (oy = 0; oy < W(OH); oy++)
        for (ox = 0; ox < W(OW); ox++)
            for (c0 = 0; c0 < W(OC); c0 += POOL_CHUNK)
                pool_px(L, a, oy, ox, c0, W(OC) - c0 < POOL_CHUNK ? W(OC) - c0 : POOL_CHUNK,
                        is_max);
}

static void mean(const layer_t *L, uint8_t *a) {
    int32_t n = W(IH) * W(IW), c, i, acc;
    for (c = 0; c < W(IC); c++) {
        acc = 0;
        for (i = 0; i < n; i++) acc += s8(a[(uint32_t)(W(IN) + i * W(IC) + c)]) - W(IN_ZP);
        acc = vp_mbqm(acc, P(0), P(1));
        if (P(2) == 1) acc = acc > 0 ? (acc + n / 2) / n : (acc - n / 2) / n;
        a[(uint32_t)(W(OUT) + c)] = u8(clamp(acc + W(OUT_ZP), -128, 127));
    }
}

static void pad(const layer_t *L, uint8_t *a) {
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
static void softmax(const vp_model_info *m, const layer_t *L, uint8_t *a) {
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

static void resize_nearest(const vp_model_info *m, const layer_t *L, uint8_t *a) {
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
static void lut(const vp_model_info *m, const layer_t *L, uint8_t *a) {
    const uint8_t *t = m->vpw + L->data;
    int32_t i;
    for (i = 0; i < W(COUNT); i++) a[(uint32_t)(W(OUT) + i)] = t[a[(uint32_t)(W(IN) + i)]];
}

/* int8 MUL with broadcasting: P0/P1 multiplier/shift, P2..P4 input-1 strides (y, x, c),
   P5..P7 input-2 strides, over the output shape (oh, ow, oc) */
static void mul(const layer_t *L, uint8_t *a) {
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
static void copy_block(const layer_t *L, uint8_t *a) {
    int32_t r;
    for (r = 0; r < P(0); r++)
        memmove(a + W(OUT) + P(3) + r * P(2), a + W(IN) + r * P(1), (size_t)P(1));
}

/* ---- validation: every offset the kernels will touch is proven in bounds here ---- */

static int dims_ok(int32_t a, int32_t b, int32_t c) {
    return a >= 1 && b >= 1 && c >= 1 && a <= VP_MAX_DIM && b <= VP_MAX_DIM && c <= VP_MAX_DIM &&
           (int64_t)a * b * c <= (int64_t)0x7FFFFFFF;
}

static int in_arena(const vp_model_info *m, int32_t off, int64_t size) {
    return off >= 0 && size >= 0 && (int64_t)off + size <= (int64_t)m->arena_size;
}

/* CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED: geometry, layout, data and scratch in bounds */
static int check_weights(const vp_model_info *m, const layer_t *L, int64_t in_n) {
    int32_t op = W(OP);
    int64_t kn, k4, need, last;
    if (W(KH) < 1 || W(KW) < 1 || W(SH) < 1 || W(SW) < 1 || W(DH) < 1 || W(DW) < 1 ||
        W(KH) > 255 || W(KW) > 255 || P(0) < 0 || P(0) > 1 || P(1) < 0 || P(1) > 1)
        return 0;
    if (op == VP_OP_FULLY_CONNECTED &&
        (W(IH) * W(IW) != 1 || W(OH) * W(OW) != 1 || W(KH) * W(KW) != 1))
        return 0;
    if (op != VP_OP_FULLY_CONNECTED && W(IN2_ZP) != 0) return 0;
    if (op == VP_OP_DEPTHWISE_CONV_2D &&
        (P(1) != 1 || W(DMUL) < 1 || (int64_t)W(IC) * W(DMUL) != W(OC) ||
         W(KH) * W(KW) > 64))
        return 0;
    kn = (int64_t)W(KH) * W(KW) * W(IC);
    k4 = (kn + 3) & ~(int64_t)3;
    if (op != VP_OP_DEPTHWISE_CONV_2D && P(1) == 0) {
        if (W(CH_STRIDE) < k4) return 0;
        if (W(KH) == 1 && W(KW) == 1 && W(PT) == 0 && W(PL) == 0) { /* rows read in place */
            if ((int64_t)(W(OH) - 1) * W(SH) >= W(IH) || (int64_t)(W(OW) - 1) * W(SW) >= W(IW))
                return 0;
            last = ((int64_t)(W(OH) - 1) * W(SH) * W(IW) + (int64_t)(W(OW) - 1) * W(SW)) * W(IC);
            if (!in_arena(m, W(IN), last + k4) || last + kn > in_n) return 0;
        }
    }
    need = vp_scratch_need(L);
    if (need > 0 && (W(SCRATCH) < 0 || !in_arena(m, W(SCRATCH), need))) return 0;
    need = vp_weight_bytes(L) + 12 * (int64_t)W(OC);
    return need <= W(DATA_LEN);
}

static int check_layer(const vp_model_info *m, const layer_t *L) {
    int64_t in_n = (int64_t)W(IH) * W(IW) * W(IC), out_n = (int64_t)W(OH) * W(OW) * W(OC);
    int64_t need = 0;
    int32_t op = W(OP), y;
    if (W(DATA) < 0 || W(DATA_LEN) < 0 ||
        (int64_t)W(DATA) + W(DATA_LEN) > (int64_t)m->data_size)
        return 0;
    if (op == VP_OP_RESHAPE) return W(COUNT) >= 0 && in_arena(m, W(IN), W(COUNT)) &&
                                    in_arena(m, W(OUT), W(COUNT));
    if (op == VP_OP_LUT)
        return W(COUNT) >= 0 && W(DATA_LEN) >= 256 && in_arena(m, W(IN), W(COUNT)) &&
               in_arena(m, W(OUT), W(COUNT));
    if (op == VP_OP_COPY)
        return P(0) >= 0 && P(1) >= 0 && P(2) >= P(1) && P(3) >= 0 && P(3) <= P(2) - P(1) &&
               P(2) <= 0x7FFFFFFF / (P(0) > 0 ? P(0) : 1) &&
               in_arena(m, W(IN), (int64_t)P(0) * P(1)) &&
               in_arena(m, W(OUT), (int64_t)P(0) * P(2));
    if (!dims_ok(W(IH), W(IW), W(IC)) || !dims_ok(W(OH), W(OW), W(OC))) return 0;
    if (!in_arena(m, W(IN), in_n) || !in_arena(m, W(OUT), out_n)) return 0;
    if (W(ACT_MIN) < -128 || W(ACT_MAX) > 127 || W(ACT_MIN) > W(ACT_MAX)) return 0;
    switch (op) {
        case VP_OP_CONV_2D:
        case VP_OP_DEPTHWISE_CONV_2D:
        case VP_OP_FULLY_CONNECTED:
            return check_weights(m, L, in_n);
        case VP_OP_AVERAGE_POOL_2D:
        case VP_OP_MAX_POOL_2D:
            if (W(KH) < 1 || W(KW) < 1 || W(SH) < 1 || W(SW) < 1 || W(DH) < 1 || W(DW) < 1 ||
                W(KH) > 255 || W(KW) > 255 || W(IC) != W(OC))
                return 0;
            break;
        case VP_OP_ADD:
            if (W(COUNT) != in_n || W(COUNT) != out_n || !in_arena(m, W(IN2), W(COUNT))) return 0;
            if (P(0) < 0 || P(0) > 24 || P(2) > 0 || P(4) > 0 || P(6) > 0 || P(2) < -31 ||
                P(4) < -31 || P(6) < -31)
                return 0;
            break;
        case VP_OP_MUL:
            for (y = 2; y <= 7; y++)
                if (P(y) < 0) return 0;
            if (P(1) > 30 || P(1) < -31 || P(0) < 0 ||
                !in_arena(m, W(IN2), (int64_t)(W(OH) - 1) * P(5) + (int64_t)(W(OW) - 1) * P(6) +
                                         (int64_t)(W(OC) - 1) * P(7) + 1) ||
                (int64_t)(W(OH) - 1) * P(2) + (int64_t)(W(OW) - 1) * P(3) +
                        (int64_t)(W(OC) - 1) * P(4) + 1 > in_n)
                return 0;
            break;
        case VP_OP_MEAN:
            if (W(IC) != W(OC) || out_n != W(OC) || P(1) > 30 || P(1) < -62) return 0;
            break;
        case VP_OP_PAD:
            if (W(PT) < 0 || W(PL) < 0 || P(1) < 0) return 0;
            break;
        case VP_OP_SOFTMAX:
            /* depth <= 256 keeps the sum of exps below 2^8 (the output shift stays <= 31);
               diff << shift must fit in int32 for every diff the kernel rescales */
            if (W(COUNT) != in_n || W(COUNT) != out_n || W(COUNT) % W(OC) != 0 || W(OC) > 256 ||
                P(0) < 0 || P(1) < 0 || P(1) > 31 || P(2) > 0 ||
                ((int64_t)(P(2) < -255 ? 255 : -P(2)) << P(1)) > ((int64_t)1 << 31))
                return 0;
            break;
        case VP_OP_RESIZE_NEAREST_NEIGHBOR:
            if (W(IC) != W(OC)) return 0;
            need = 4 * ((int64_t)W(OH) + W(OW));
            if (W(DATA_LEN) < need) return 0;
            for (y = 0; y < W(OH) + W(OW); y++) {
                int32_t v = vp_rd32(m->vpw, L->data + 4u * (uint32_t)y);
                if (v < 0 || v >= (y < W(OH) ? W(IH) : W(IW))) return 0;
            }
            break;
        default:
            return 0;
    }
    return W(DATA_LEN) >= need;
}

int vp_engine_check(const uint8_t *vpw, size_t len, vp_model_info *out) {
    vp_model_info m;
    uint32_t i;
    int k;
    if (vpw == 0 || out == 0) return VP_ERR_ARG;
    memset(&m, 0, sizeof(m));
    m.bad_layer = -1;
    *out = m;
    if (len < VP_HEADER_SIZE) return VP_ERR_SIZE;
    if (vpw[0] != 'V' || vpw[1] != 'P' || vpw[2] != 'W' || vpw[3] != '1') return VP_ERR_MAGIC;
    if (vp_rd32(vpw, 4) != VP_VERSION || vp_rd32(vpw, 8) != VP_HEADER_SIZE) return VP_ERR_VERSION;
    m.target = vp_rd32(vpw, VP_H_TARGET);
    if (m.target < VP_TARGET_GENERIC || m.target > VP_TARGET_CORTEX_M7) return VP_ERR_TARGET;
#if defined(__arm__) && !defined(VP_ANY_TARGET)
    if (m.target == VP_TARGET_GENERIC) return VP_ERR_TARGET; /* layout for hosts, not MCUs */
#endif
    if ((uint32_t)vp_rd32(vpw, 12) != len || len > 0x7FFFFFFFu) return VP_ERR_SIZE;
    m.vpw = vpw;
    m.len = (uint32_t)len;
    m.n_layers = (uint32_t)vp_rd32(vpw, VP_H_N_LAYERS);
    m.layers_offset = (uint32_t)vp_rd32(vpw, VP_H_LAYERS_OFFSET);
    m.data_offset = (uint32_t)vp_rd32(vpw, VP_H_DATA_OFFSET);
    m.data_size = (uint32_t)vp_rd32(vpw, VP_H_DATA_SIZE);
    m.arena_size = (uint32_t)vp_rd32(vpw, VP_H_ARENA_SIZE);
    m.in_offset = (uint32_t)vp_rd32(vpw, VP_H_IN_OFFSET);
    m.out_offset = (uint32_t)vp_rd32(vpw, VP_H_OUT_OFFSET);
    m.in_size = (uint32_t)vp_rd32(vpw, VP_H_IN_SIZE);
    m.out_size = (uint32_t)vp_rd32(vpw, VP_H_OUT_SIZE);
    m.in_zp = vp_rd32(vpw, VP_H_IN_ZP);
    m.out_zp = vp_rd32(vpw, VP_H_OUT_ZP);
    for (k = 0; k < 4; k++) {
        m.in_shape[k] = vp_rd32(vpw, (uint32_t)(VP_H_IN_N + 4 * k));
        m.out_shape[k] = vp_rd32(vpw, (uint32_t)(VP_H_OUT_N + 4 * k));
    }
    if (m.n_layers < 1 || m.n_layers > VP_MAX_LAYERS) return VP_ERR_SIZE;
    if (vp_rd32(vpw, VP_H_DESC_SIZE) != VP_DESC_WORDS * 4) return VP_ERR_VERSION;
    if ((uint64_t)m.layers_offset + (uint64_t)m.n_layers * VP_DESC_WORDS * 4 > len ||
        (uint64_t)m.data_offset + m.data_size > len || m.layers_offset < VP_HEADER_SIZE)
        return VP_ERR_SIZE;
    if ((uint64_t)m.in_offset + m.in_size > m.arena_size ||
        (uint64_t)m.out_offset + m.out_size > m.arena_size)
        return VP_ERR_BOUNDS;
    if ((uint32_t)vp_rd32(vpw, VP_H_FLAGS) & VP_FLAG_GOLDEN) {
        m.golden_offset = (uint32_t)vp_rd32(vpw, VP_H_GOLDEN_OFFSET);
        if (m.golden_offset < VP_HEADER_SIZE ||
            (uint64_t)m.golden_offset + m.in_size + m.out_size > len)
            return VP_ERR_SIZE;
    }
    for (i = 0; i < m.n_layers; i++) {
        layer_t L;
        load_layer(&m, i, &L);
        if (!check_layer(&m, &L)) {
            m.bad_layer = (int32_t)i;
            *out = m;
            return (L.w[VP_W_OP] < 1 || L.w[VP_W_OP] > VP_OP_LAST) ? VP_ERR_OP
                                                                                      : VP_ERR_BOUNDS;
        }
    }
    *out = m;
    return VP_OK;
}

int vp_engine_run_layer(const vp_model_info *m, uint32_t index, uint8_t *scratch,
                        size_t scratch_len) {
    layer_t Ls;
    const layer_t *L = &Ls;
    if (m == 0 || scratch == 0 || index >= m->n_layers) return VP_ERR_ARG;
    if (scratch_len < m->arena_size) return VP_ERR_SCRATCH;
    load_layer(m, index, &Ls);
    switch (W(OP)) {
        case VP_OP_CONV_2D:
        case VP_OP_FULLY_CONNECTED: vp_conv(m, L, scratch); break;
        case VP_OP_DEPTHWISE_CONV_2D: vp_depthwise(m, L, scratch); break;
        case VP_OP_ADD: add(L, scratch); break;
        case VP_OP_AVERAGE_POOL_2D: pool(L, scratch, 0); break;
        case VP_OP_MAX_POOL_2D: pool(L, scratch, 1); break;
        case VP_OP_MEAN: mean(L, scratch); break;
        case VP_OP_RESHAPE:
            memmove(scratch + W(OUT), scratch + W(IN), (size_t)W(COUNT));
            break;
        case VP_OP_PAD: pad(L, scratch); break;
        case VP_OP_SOFTMAX: softmax(m, L, scratch); break;
        case VP_OP_RESIZE_NEAREST_NEIGHBOR: resize_nearest(m, L, scratch); break;
        case VP_OP_LUT: lut(m, L, scratch); break;
        case VP_OP_MUL: mul(L, scratch); break;
        case VP_OP_COPY: copy_block(L, scratch); break;
        default: return VP_ERR_OP;
    }
    return VP_OK;
}

int vp_engine_load_input(const vp_model_info *m, const int8_t *input, uint8_t *scratch,
                         size_t scratch_len) {
    if (m == 0 || input == 0 || scratch == 0) return VP_ERR_ARG;
    if (scratch_len < m->arena_size) return VP_ERR_SCRATCH;
    memcpy(scratch + m->in_offset, input, m->in_size); /* int8 and its byte: the same bits */
    return VP_OK;
}

int vp_engine_read_output(const vp_model_info *m, int8_t *output, const uint8_t *scratch,
                          size_t scratch_len) {
    if (m == 0 || output == 0 || scratch == 0) return VP_ERR_ARG;
    if (scratch_len < m->arena_size) return VP_ERR_SCRATCH;
    memcpy(output, scratch + m->out_offset, m->out_size);
    return VP_OK;
}

int vp_engine_run(const vp_model_info *m, const int8_t *input, int8_t *output, uint8_t *scratch,
                  size_t scratch_len) {
    uint32_t i;
    int rc = vp_engine_load_input(m, input, scratch, scratch_len);
    for (i = 0; rc == VP_OK && i < m->n_layers; i++) rc = vp_engine_run_layer(m, i, scratch, scratch_len);
    if (rc == VP_OK) rc = vp_engine_read_output(m, output, scratch, scratch_len);
    return rc;
}

int vp_engine_self_test(const vp_model_info *m, uint8_t *scratch, size_t scratch_len,
                        int8_t *output_buf) {
    uint32_t i;
    int rc;
    if (m == 0 || m->golden_offset == 0u || output_buf == 0) return VP_ERR_ARG;
    if (scratch == 0 || scratch_len < m->arena_size) return VP_ERR_SCRATCH;
    for (i = 0; i < m->in_size; i++) scratch[m->in_offset + i] = m->vpw[m->golden_offset + i];
    rc = VP_OK;
    for (i = 0; rc == VP_OK && i < m->n_layers; i++) rc = vp_engine_run_layer(m, i, scratch, scratch_len);
    if (rc == VP_OK) rc = vp_engine_read_output(m, output_buf, scratch, scratch_len);
    if (rc != VP_OK) return rc;
    for (i = 0; i < m->out_size; i++)
        if (s8(m->vpw[m->golden_offset + m->in_size + i]) != output_buf[i]) return VP_ERR_GOLDEN;
    return VP_OK;
}
