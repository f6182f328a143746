/*
 * Multiply-accumulate kernels: CONV_2D, FULLY_CONNECTED (a 1x1 conv over one pixel) and
 * DEPTHWISE_CONV_2D, in the layouts the packer chose for the target (docs/vpw.md):
 *
 * - layout 1 (generic, k-major, weights [K][OC]): per pixel, one int32 accumulator per output
 *   channel, the inner loop over contiguous output channels (what GCC/Clang vectorise).
 * - layout 0 (cortex-m, oc-major, weights [OC][stride]): blocked matrix product, two pixels x two
 *   output channels per pass over K; on a core with the DSP extension (__ARM_FEATURE_DSP) four
 *   int8 pairs per SXTB16/SMLAD step, else portable C. Inputs of a 1x1 unpadded conv are read in
 *   place, any other conv goes through an int8 im2col row in the scratch the packer planned.
 *   With P2 = 1 (Cortex-M packs) the DSP build widens the inputs to int16 once per group of
 *   pixels and runs all channels in one Thumb-2 routine (pw_quads, pw_pairs).
 *
 * The input zero point is folded into the bias at pack time (bias - zp * sum(w)), so padded taps
 * read the zero point itself. Sums are taken modulo 2^32: when LiteRT's int32 sum does not
 * overflow (it must not), the rearranged one gives the same value.
 */
#include "vp_kernels.h"

#include <string.h>

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
static int32_t rq_fast_ok(const uint8_t *v, uint32_t mult, uint32_t shift, int32_t oc_n) {
    int32_t c;
    for (c = 0; c < oc_n; c++) {
        int32_t m = vp_rd32(v, mult + 4u * (uint32_t)c), sh = vp_rd32(v, shift + 4u * (uint32_t)c);
        if (m <= (1 << 30) || sh > -2 || sh < -31) return 0;
    }
    return 1;
}

static rq_t rq_init(const uint8_t *v, const vp_layer *L, uint32_t q, int32_t oc_n) {
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

/* n outputs from channel c0: the same arithmetic as rq (double rounding) without branches, so
   compilers vectorise it (per-lane shifts and 32x32->64 products: AVX2, NEON) */
VP_CLONES static void rq_row(const rq_t *r, int32_t c0, int32_t n, const int32_t *acc, int32_t zs,
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

int64_t vp_weight_bytes(const vp_layer *L) {
    int64_t k = (int64_t)W(KH) * W(KW) * (W(OP) == VP_OP_DEPTHWISE_CONV_2D ? 1 : W(IC));
    if (W(OP) == VP_OP_FULLY_CONNECTED) k = W(IC);
    if (W(OP) == VP_OP_DEPTHWISE_CONV_2D || P(1) == 1) return k * W(OC);
    return (int64_t)W(OC) * W(CH_STRIDE);
}

static int direct_rows(const vp_layer *L) {
    return W(OP) == VP_OP_FULLY_CONNECTED ||
           (W(KH) == 1 && W(KW) == 1 && W(PT) == 0 && W(PL) == 0);
}

/* converters/vpw_lower.py conv_scratch computes the same: two int8 im2col rows unless read in
   place; with P2 = 1 also a 16-byte requantisation entry per channel and the int16 inputs of
   four pixels (1x1) or two (conv_rows_dsp) */
int64_t vp_scratch_need(const vp_layer *L) {
    int64_t need, k4 = (((int64_t)W(KH) * W(KW) * W(IC)) + 3) & ~(int64_t)3;
    if (W(OP) == VP_OP_DEPTHWISE_CONV_2D || P(1) == 1) return 0;
    need = direct_rows(L) ? 0 : 2 * (int64_t)W(CH_STRIDE);
    if (W(OP) == VP_OP_CONV_2D && P(2) == 1)
        need += (direct_rows(L) ? 8 : 4) * k4 + 16 * (int64_t)W(OC);
    return need;
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

/* whether output pixel (oy, ox)'s window lies inside the input with its taps side by side */
static int window_inside(const vp_layer *L, int32_t oy, int32_t ox) {
    int32_t iy0 = oy * W(SH) - W(PT), ix0 = ox * W(SW) - W(PL);
    return W(DW) == 1 && iy0 >= 0 && ix0 >= 0 && iy0 + (W(KH) - 1) * W(DH) < W(IH) &&
           ix0 + W(KW) - 1 < W(IW);
}

/* the K-byte input row of output pixel p: in place (1x1, FC) or gathered into buf (im2col) */
static const int8_t *input_row(const vp_layer *L, const uint8_t *a, int32_t p, int8_t *buf) {
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

/* sum of an input row (FULLY_CONNECTED with a non-zero filter zero point only) */
static int32_t row_sum(const int8_t *r, int32_t n) {
    int32_t k, s = 0;
    for (k = 0; k < n; k++) s += r[k];
    return s;
}

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

#if defined(__GNUC__) && defined(__thumb2__)
/* What pw_pairs reads and advances (offsets fixed in its assembly). */
typedef struct {
    const uint32_t *x; /* 0: both pixels' inputs, per 4 K: x0 even, x0 odd, x1 even, x1 odd */
    const int8_t *w;   /* 4: the weight row of the channel pair's first channel */
    int32_t stride;    /* 8: bytes from one channel's weight row to the next */
    int32_t n4;        /* 12: steps of 4 K (>= 1) */
    const int32_t *t;  /* 16: the channel's table entry (pw_table) */
    int32_t wskip;     /* 20: from the end of a weight row to the next pair's (LDRD with t) */
    int32_t clamp;     /* 24: the clamp is narrower than int8, else SSAT did it (24..36: LDM) */
    const int32_t *te; /* 28: the table's end */
    int8_t *o;         /* 32: the first pixel's outputs at the channel pair */
    int32_t d;         /* 36: from the first pixel's outputs to the second's (0: one pixel) */
    int32_t zp;        /* 40 */
    uint32_t lo4, hi4; /* 44, 48: the clamp bounds in every byte (LDRD) */
} pw_job;

/* one step of 4 K for two pixels x two channels: 1 LDM, 2 LDR, 4 SXTB16, 8 SMLAD (the inputs
   were sign-extended once per pixel pair, so only the weights are split here) */
#define PW_STEP                                                                                   \
    "ldmia r0!, {r8-r11}\n\t"                                                                     \
    "ldr lr, [r1, r2]\n\t"                                                                        \
    "sxtb16 r12, lr\n\t"                                                                          \
    "sxtb16 lr, lr, ror #8\n\t"                                                                   \
    "smlad r5, r8, r12, r5\n\t"                                                                   \
    "smlad r5, r9, lr, r5\n\t"                                                                    \
    "smlad r7, r10, r12, r7\n\t"                                                                  \
    "smlad r7, r11, lr, r7\n\t"                                                                   \
    "ldr lr, [r1], #4\n\t"                                                                        \
    "sxtb16 r12, lr\n\t"                                                                          \
    "sxtb16 lr, lr, ror #8\n\t"                                                                   \
    "smlad r4, r8, r12, r4\n\t"                                                                   \
    "smlad r4, r9, lr, r4\n\t"                                                                    \
    "smlad r6, r10, r12, r6\n\t"                                                                  \
    "smlad r6, r11, lr, r6\n\t"

/* rq_fast_r2 of y (the bias included) with multiplier r9, shift r10 = r - 1 and r11 = 2^(r - 2):
   floor((H + 2^(r-2)) / 2^(r-1)) equals floor((floor(H / 2^(r-2)) + 1) / 2); the 2^(r-2) rides
   in the high word of SMLAL's addend. Then + zp and SSAT to int8 (r3 = 2^30; r1, lr: scratch). */
#define PW_RQ(y, zp)                                                                              \
    "asr r1, " y ", #31\n\t"                                                                      \
    "add lr, r3, r1, lsl #31\n\t"                                                                 \
    "add r1, r1, r11\n\t"                                                                         \
    "smlal lr, r1, " y ", r9\n\t"                                                                 \
    "asr " y ", r1, r10\n\t"                                                                      \
    "add " y ", " y ", " zp "\n\t"                                                                 \
    "ssat " y ", #8, " y "\n\t"
/* the zero point (at offset off of the job in register j) into zp and 2^30 into r3, for PW_RQ */
#define PW_SET(zp, j, off) "ldr " zp ", [" j ", " off "]\n\tmov r3, #0x40000000\n\t"

/*
 * The doubled form (pw_table: |sum| < 2^29 and r <= 22 on every channel): the sum x doubled
 * stays exact, so SMMLAR of 2x by m with the addend
 * A = 2^(r-1) + zp 2^r (r11) is A + floor((x m + 2^30) / 2^31) = A + h, TFLite's doubling high
 * multiply; adding the sign of x (h < 0 exactly when x < 0) and shifting by r (r10) is
 * RoundingDivideByPOT(h, r) + zp. Five instructions instead of seven.
 */
#define PW_RQ2(y, zp)                                                                             \
    "add " y ", " y ", " y "\n\t"                                                                 \
    "smmlar r1, " y ", r9, r11\n\t"                                                               \
    "add r1, r1, " y ", asr #31\n\t"                                                              \
    "asr " y ", r1, r10\n\t"                                                                      \
    "ssat " y ", #8, " y "\n\t"
#define PW_SET2(zp, j, off) ""

/* every channel pair of one pixel pair: the 2x2 dot products over K, the four requantisations
   from the per-layer table, the four outputs clamped together (SSUB8/SEL) and stored as two
   halfwords; no call and no push/pop per block */
#define PW_PAIRS_ASM(RQ, SET) \
    "push {r0, r4-r11, lr}\n" \
    "1:\n\t" \
    "ldr r12, [sp]\n\t" \
    "ldm r12, {r0-r4}\n\t" /* x, w, stride, n4, t */ \
    "ldr r5, [r4, #16]\n\t" /* the sums start at the channels' biases */ \
    "ldr r4, [r4]\n\t" \
    "mov r6, r4\n\t" \
    "mov r7, r5\n\t" \
    "lsrs r3, r3, #1\n\t" /* 4 steps a pass; 1 and 2 first */ \
    "bcc 7f\n\t" \
    PW_STEP \
    "7:\n\t" \
    "lsrs r3, r3, #1\n\t" \
    "bcc 8f\n\t" \
    PW_STEP \
    PW_STEP \
    "8:\n\t" \
    "subs r3, r3, #1\n\t" /* passes left, less one: no borrow while one is left */ \
    "bcc 3f\n" \
    "2:\n\t" \
    PW_STEP \
    PW_STEP \
    PW_STEP \
    PW_STEP \
    "subs r3, r3, #1\n\t" \
    "bcs 2b\n" \
    "3:\n\t" \
    "ldr r12, [sp]\n\t" \
    "ldrd r0, r3, [r12, #16]\n\t" /* t, wskip */ \
    "add r1, r1, r3\n\t" \
    "str r1, [r12, #4]\n\t" \
    SET("r2", "r12", "#40") \
    "ldmia r0!, {r8-r11}\n\t" \
    RQ("r4", "r2") \
    RQ("r6", "r2") \
    "ldmia r0!, {r8-r11}\n\t" \
    RQ("r5", "r2") \
    RQ("r7", "r2") \
    "str r0, [r12, #16]\n\t" \
    "bfi r6, r7, #8, #8\n\t" \
    "bfi r4, r5, #8, #8\n\t" \
    "bfi r4, r6, #16, #16\n\t" \
    "add r1, r12, #24\n\t" \
    "ldm r1, {r1, r3, r10, r11}\n\t" /* clamp, te, o, d */ \
    "cbz r1, 4f\n\t" \
    "ldrd r8, r9, [r12, #44]\n\t" \
    "ssub8 lr, r4, r8\n\t" \
    "sel r4, r4, r8\n\t" \
    "ssub8 lr, r9, r4\n\t" \
    "sel r4, r4, r9\n" \
    "4:\n\t" \
    "lsrs r5, r4, #16\n\t" \
    "strh r5, [r10, r11]\n\t" \
    "strh r4, [r10], #2\n\t" \
    "str r10, [r12, #32]\n\t" \
    "cmp r0, r3\n\t" \
    "bne 1b\n\t" \
    "pop {r0, r4-r11, pc}\n"

__attribute__((naked, noinline)) static void pw_pairs(pw_job *j) {
    __asm__ volatile(PW_PAIRS_ASM(PW_RQ, PW_SET));
}

/* pw_pairs for a layer on the doubled form (pw_table) */
__attribute__((naked, noinline)) static void pw_pairs2(pw_job *j) {
    __asm__ volatile(PW_PAIRS_ASM(PW_RQ2, PW_SET2));
}

/* What pw_quads reads and advances (offsets fixed in its assembly). */
typedef struct {
    const uint32_t *x; /* 0: four pixels' inputs, per 4 K: each pixel's even, odd lanes */
    const int8_t *w;   /* 4: the channel's weight row */
    int32_t n4;        /* 8: steps of 4 K (>= 1) */
    const int32_t *t;  /* 12: the channel's table entry (pw_table) */
    int32_t wskip;     /* 16: from the end of a weight row to the next (LDRD with t) */
    int32_t clamp;     /* 20: as pw_job's (20..32: one LDM) */
    const int32_t *te; /* 24: the table's end */
    int8_t *o;         /* 28: the first pixel's output at the channel */
    int32_t oc;        /* 32: bytes from one pixel's outputs to the next's */
    int32_t zp;        /* 36 */
    uint32_t lo4, hi4; /* 40, 44 (LDRD) */
} pw4_job;

/* one step of 4 K for four pixels x one channel: 2 LDM, 1 LDR, 2 SXTB16, 8 SMLAD */
#define PW4_STEP                                                                                  \
    "ldr lr, [r1], #4\n\t"                                                                        \
    "ldmia r0!, {r8-r11}\n\t"                                                                     \
    "sxtb16 r12, lr\n\t"                                                                          \
    "sxtb16 lr, lr, ror #8\n\t"                                                                   \
    "smlad r4, r8, r12, r4\n\t"                                                                   \
    "smlad r4, r9, lr, r4\n\t"                                                                    \
    "smlad r5, r10, r12, r5\n\t"                                                                  \
    "smlad r5, r11, lr, r5\n\t"                                                                   \
    "ldmia r0!, {r8-r11}\n\t"                                                                     \
    "smlad r6, r8, r12, r6\n\t"                                                                   \
    "smlad r6, r9, lr, r6\n\t"                                                                    \
    "smlad r7, r10, r12, r7\n\t"                                                                  \
    "smlad r7, r11, lr, r7\n\t"

/* every channel of four pixels (a 1x1 conv: the four rows lie in place): per channel the four
   dot products over K with the job in r2, the requantisation from the table, the four outputs
   clamped together and stored a pixel apart */
#define PW_QUADS_ASM(RQ, SET) \
    "push {r0, r4-r11, lr}\n\t" \
    "mov r2, r0\n" \
    "1:\n\t" \
    "ldm r2, {r0, r1, r3, r4}\n\t" /* x, w, n4, t */ \
    "ldr r4, [r4]\n\t"              /* the sums start at the channel's bias */ \
    "mov r5, r4\n\t" \
    "mov r6, r4\n\t" \
    "mov r7, r4\n\t" \
    "lsrs r3, r3, #1\n\t" /* 4 steps a pass; 1 and 2 first */ \
    "bcc 7f\n\t" \
    PW4_STEP \
    "7:\n\t" \
    "lsrs r3, r3, #1\n\t" \
    "bcc 8f\n\t" \
    PW4_STEP \
    PW4_STEP \
    "8:\n\t" \
    "subs r3, r3, #1\n\t" /* passes left, less one: no borrow while one is left */ \
    "bcc 3f\n" \
    "2:\n\t" \
    PW4_STEP \
    PW4_STEP \
    PW4_STEP \
    PW4_STEP \
    "subs r3, r3, #1\n\t" \
    "bcs 2b\n" \
    "3:\n\t" \
    "ldrd r0, r3, [r2, #12]\n\t" /* t, wskip */ \
    "add r1, r1, r3\n\t" \
    "str r1, [r2, #4]\n\t" \
    "ldmia r0!, {r8-r11}\n\t" \
    "str r0, [r2, #12]\n\t" \
    SET("r12", "r2", "#36") \
    RQ("r4", "r12") \
    RQ("r5", "r12") \
    RQ("r6", "r12") \
    RQ("r7", "r12") \
    "add r12, r2, #20\n\t" \
    "ldm r12, {r1, r3, r10, r11}\n\t" /* clamp, te, o, oc */ \
    "add r12, r10, r11\n\t" \
    "cbnz r1, 5f\n\t" /* int8 bounds: a byte store each */ \
    "strb r4, [r10], #1\n\t" \
    "strb r5, [r12]\n\t" \
    "strb r6, [r12, r11]\n\t" \
    "strb r7, [r12, r11, lsl #1]\n\t" \
    "str r10, [r2, #28]\n\t" \
    "cmp r0, r3\n\t" \
    "bne 1b\n\t" \
    "pop {r0, r4-r11, pc}\n" \
    "5:\n\t" /* narrower bounds: packed, clamped together, stored byte by byte */ \
    "bfi r4, r5, #8, #8\n\t" \
    "bfi r6, r7, #8, #8\n\t" \
    "bfi r4, r6, #16, #16\n\t" \
    "ldrd r8, r9, [r2, #40]\n\t" \
    "ssub8 r10, r4, r8\n\t" \
    "sel r4, r4, r8\n\t" \
    "ssub8 r10, r9, r4\n\t" \
    "sel r4, r4, r9\n\t" \
    "ldr r10, [r2, #28]\n\t" \
    "strb r4, [r10], #1\n\t" \
    "lsrs r5, r4, #8\n\t" \
    "strb r5, [r12]\n\t" \
    "lsrs r5, r4, #16\n\t" \
    "strb r5, [r12, r11]\n\t" \
    "lsrs r5, r4, #24\n\t" \
    "strb r5, [r12, r11, lsl #1]\n\t" \
    "str r10, [r2, #28]\n\t" \
    "cmp r0, r3\n\t" \
    "bne 1b\n\t" \
    "pop {r0, r4-r11, pc}\n"

__attribute__((naked, noinline)) static void pw_quads(pw4_job *j) {
    __asm__ volatile(PW_QUADS_ASM(PW_RQ, PW_SET));
}

/* pw_quads for a layer on the doubled form (pw_table) */
__attribute__((naked, noinline)) static void pw_quads2(pw4_job *j) {
    __asm__ volatile(PW_QUADS_ASM(PW_RQ2, PW_SET2));
}

/* the layer's requantisation table in the scratch, per channel: bias, multiplier, r - 1,
   2^(r - 2) for PW_RQ; bias, multiplier, r, 2^(r-1) + zp 2^r for PW_RQ2, the doubled form.
   Returns -1 unless every channel is on rq_fast (multiplier above 2^30, r in 2..31: what
   rq_fast_ok checks), else whether the layer takes the doubled form: on every channel the sum's
   bound |bias| + K 2^14 (int8 products are at most 2^14 in size) below 2^29 and r <= 22, so
   twice the sum, and addend + h, fit in int32. */
static int pw_table(const vp_layer *L, const uint8_t *v, int32_t kn, int32_t *t) {
    int32_t c, oc_n = W(OC), *e = t, dbl = kn < (1 << 15);
    const uint8_t *bp = v + L->data + (uint32_t)(oc_n * W(CH_STRIDE));
    const uint8_t *mp = bp + 4 * oc_n, *sp = bp + 8 * oc_n;
    uint32_t kb = (uint32_t)kn << 14, zp = (uint32_t)W(OUT_ZP);
    for (c = 0; c < oc_n; c++, e += 4, bp += 4, mp += 4, sp += 4) {
        int32_t b = vp_rd32(bp, 0), mu = vp_rd32(mp, 0);
        int32_t r = (int32_t)(0u - (uint32_t)vp_rd32(sp, 0));
        if (mu <= (1 << 30) || (uint32_t)(r - 2) > 29u) return -1;
        e[0] = b, e[1] = mu, e[2] = r;
        e[3] = (int32_t)((1u << (r - 1)) + (zp << r)); /* exact where r <= 22 */
        if (r > 22 || (b < 0 ? 0u - (uint32_t)b : (uint32_t)b) + kb >= (1u << 29)) dbl = 0;
    }
    for (c = 0, e = t; !dbl && c < oc_n; c++, e += 4) /* else the general form */
        e[3] = (int32_t)(1u << (e[2] - 2)), e[2] -= 1;
    return dbl;
}

/* rows r[0..n-1] (n = 2 or 4) sign-extended into int16 lanes: per 4 K each row's even lanes,
   then odd */
static void pw_widen(const int8_t *const *r, int32_t n, int32_t k4, uint32_t *xr) {
    const int8_t *r0 = r[0], *r1 = r[1], *r2 = r[n > 2 ? 2 : 0], *r3 = r[n > 2 ? 3 : 0];
    int32_t g;
    if (n == 2)
        for (g = 0; g < k4; g += 4, xr += 4) {
            uint32_t x = ld32(r0 + g), y = ld32(r1 + g);
            xr[0] = __sxtb16(x), xr[1] = sxtb16_ror8(x), xr[2] = __sxtb16(y);
            xr[3] = sxtb16_ror8(y);
        }
    else
        for (g = 0; g < k4; g += 4, xr += 8) {
            uint32_t x = ld32(r0 + g), y = ld32(r1 + g), z = ld32(r2 + g), w = ld32(r3 + g);
            xr[0] = __sxtb16(x), xr[1] = sxtb16_ror8(x), xr[2] = __sxtb16(y);
            xr[3] = sxtb16_ror8(y), xr[4] = __sxtb16(z), xr[5] = sxtb16_ror8(z);
            xr[6] = __sxtb16(w), xr[7] = sxtb16_ror8(w);
        }
}

/* a 1x1 conv's pixels four at a time (rows in place, one channel per pass); returns the first
   pixel left for the pairs */
static int32_t conv_quads_dsp(const vp_layer *L, const pw_job *P, int dbl, uint8_t *a,
                              uint32_t *xr) {
    int32_t oc_n = W(OC), n_pix = W(OH) * W(OW), p, i, k4 = P->n4 * 4;
    pw4_job J;
    J.n4 = P->n4, J.oc = oc_n, J.te = P->te, J.zp = P->zp, J.lo4 = P->lo4, J.hi4 = P->hi4;
    J.wskip = P->stride - k4, J.clamp = P->clamp;
    for (p = 0; p + 4 <= n_pix; p += 4) {
        const int8_t *r[4];
        for (i = 0; i < 4; i++) r[i] = input_row(L, a, p + i, 0);
        pw_widen(r, 4, k4, xr);
        J.x = xr, J.w = P->w, J.t = P->t, J.o = (int8_t *)a + W(OUT) + p * oc_n;
        if (dbl)
            pw_quads2(&J);
        else
            pw_quads(&J);
    }
    return p;
}

/* layout 0 with P2 = 1, an even channel count, every channel on rq_fast (else 0 is returned
   before anything is written but the table): the input rows (in
   place, or gathered by input_row) sign-extended once into int16 lanes in the scratch, then
   pw_quads over every channel of four pixels (1x1) and pw_pairs over every channel pair of two.
   Scratch: the table (16 bytes a channel), the int16 rows, two int8 im2col rows. */
static int conv_rows_dsp(const vp_model_info *m, const vp_layer *L, uint8_t *a) {
    const uint8_t *v = m->vpw;
    int32_t oc_n = W(OC), stride = W(CH_STRIDE), n_pix = W(OH) * W(OW), p = 0;
    int32_t kn = W(KH) * W(KW) * W(IC), k4 = (kn + 3) & ~3, direct = direct_rows(L), dbl;
    int32_t *tab = (int32_t *)(void *)(a + W(SCRATCH));
    uint32_t *xr = (uint32_t *)(void *)(a + W(SCRATCH) + 16 * oc_n);
    int8_t *buf = (int8_t *)a + W(SCRATCH) + 16 * oc_n + 4 * k4;
    pw_job J;
    if ((dbl = pw_table(L, v, kn, tab)) < 0) return 0;
    if (!direct) memset(buf, 0, (size_t)(2 * stride));
    J.stride = stride, J.n4 = k4 >> 2, J.zp = W(OUT_ZP), J.wskip = 2 * stride - k4;
    J.te = tab + 4 * oc_n, J.w = (const int8_t *)v + L->data, J.t = tab;
    J.lo4 = (uint32_t)(uint8_t)W(ACT_MIN) * 0x01010101u;
    J.hi4 = (uint32_t)(uint8_t)W(ACT_MAX) * 0x01010101u;
    J.clamp = W(ACT_MIN) > -128 || W(ACT_MAX) < 127;
    if (direct) p = conv_quads_dsp(L, &J, dbl, a, xr);
    for (; p < n_pix; p += 2) {
        int two = p + 1 < n_pix;
        const int8_t *r[2];
        r[0] = input_row(L, a, p, buf);
        r[1] = two ? input_row(L, a, p + 1, buf + stride) : r[0];
        pw_widen(r, 2, k4, xr);
        J.x = xr, J.w = (const int8_t *)v + L->data, J.t = tab;
        J.o = (int8_t *)a + W(OUT) + p * oc_n, J.d = two ? oc_n : 0;
        if (dbl)
            pw_pairs2(&J);
        else
            pw_pairs(&J);
    }
    return 1;
}
#define VP_ROWS_DSP 1
#endif
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
        W(IN2_ZP) == 0 && conv_rows_dsp(m, L, a))
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
        const int8_t *r0 = input_row(L, a, p, buf);
        const int8_t *r1 = two ? input_row(L, a, p + 1, buf + stride) : r0;
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
                rq_row(&R, c0, n, acc, zs, o);
            }
        }
    }
}

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
VP_CLONES static void conv_rows16(const vp_model_info *m, const vp_layer *L, uint8_t *a) {
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
                rq_row(&R, c0, n, acc[i], zs[i], (int8_t *)a + W(OUT) + (p + i) * oc_n);
            }
        }
    }
}
#endif

void vp_conv(const vp_model_info *m, const vp_layer *L, uint8_t *a) {
    if (P(1) == 1)
        conv_kmajor(m, L, a);
#if defined(VP_ROW16)
    else if ((W(OP) == VP_OP_FULLY_CONNECTED ? 1 : W(KH) * W(KW)) * W(IC) <= VP_ROW16)
        conv_rows16(m, L, a);
#endif
    else
        conv_ocmajor(m, L, a);
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
        rq_row(R, c0, n, acc, 0, o);
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
