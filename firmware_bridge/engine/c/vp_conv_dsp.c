/*
 * CONV_2D on Cortex-M with the DSP extension (packed with P2 = 1, docs/vpw.md): the input rows
 * sign-extended once into int16 lanes, then one Thumb-2 routine over every channel of four pixels
 * (pw_quads: 1x1 and short im2col rows) or of two (pw_pairs), with the requantisation from a
 * per-layer table.
 */
#include "vp_conv.h"

#include <string.h>

#if defined(VP_ROWS_DSP)
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

/* a weight word split into r12 (even lanes) and lr (odd), and the two SMLAD of one sum */
#define PW_W(ld) ld "\n\tsxtb16 r12, lr\n\tsxtb16 lr, lr, ror #8\n\t"
#define PW_MAC(y, xe, xo) "smlad " y ", " xe ", r12, " y "\n\tsmlad " y ", " xo ", lr, " y "\n\t"

/* one step of 4 K for two pixels x two channels: 1 LDM, 2 LDR, 4 SXTB16, 8 SMLAD (the inputs
   were sign-extended once per pixel pair, so only the weights are split here) */
#define PW_STEP                                                                                   \
    "ldmia r0!, {r8-r11}\n\t" PW_W("ldr lr, [r1, r2]") PW_MAC("r5", "r8", "r9")                    \
        PW_MAC("r7", "r10", "r11") PW_W("ldr lr, [r1], #4") PW_MAC("r4", "r8", "r9")               \
            PW_MAC("r6", "r10", "r11")

/* PW_STEP for one pixel (the job's d = 0): 4 SMLAD (r6, r7 keep the biases; the outputs made
   from them are overwritten by the pixel's own) */
#define PW_STEP1                                                                                  \
    "ldmia r0!, {r8-r11}\n\t" PW_W("ldr lr, [r1, r2]") PW_MAC("r5", "r8", "r9")                    \
        PW_W("ldr lr, [r1], #4") PW_MAC("r4", "r8", "r9")

/* rq_fast_r2 of y (the bias included) with multiplier r9, shift r10 = r - 1 and r11 = 2^(r - 2):
   floor((H + 2^(r-2)) / 2^(r-1)) equals floor((floor(H / 2^(r-2)) + 1) / 2); the 2^(r-2) rides
   in the high word of SMLAL's addend. Then + zp and SSAT to int8 (r3 = 2^30; t, lr: scratch). */
#define PW_RQT(y, zp, t)                                                                           \
    "asr " t ", " y ", #31\n\t"                                                                    \
    "add lr, r3, " t ", lsl #31\n\t"                                                               \
    "add " t ", " t ", r11\n\t"                                                                    \
    "smlal lr, " t ", " y ", r9\n\t"                                                               \
    "asr " y ", " t ", r10\n\t"                                                                    \
    "add " y ", " y ", " zp "\n\t"                                                                 \
    "ssat " y ", #8, " y "\n\t"
#define PW_RQ(y, zp) PW_RQT(y, zp, "r1")
/* the zero point (at offset off of the job in register j) into zp and 2^30 into r3, for PW_RQ */
#define PW_SET(zp, j, off) "ldr " zp ", [" j ", " off "]\n\tmov r3, #0x40000000\n\t"

/*
 * The doubled form (pw_table: |sum| < 2^29 and r <= 22 on every channel): the sum x doubled
 * stays exact, so SMMLAR of 2x by m with the addend
 * A = 2^(r-1) + zp 2^r (r11) is A + floor((x m + 2^30) / 2^31) = A + h, TFLite's doubling high
 * multiply; adding the sign of x (h < 0 exactly when x < 0) and shifting by r (r10) is
 * RoundingDivideByPOT(h, r) + zp. Five instructions instead of seven.
 */
#define PW_RQ2T(y, zp, t)                                                                          \
    "add " y ", " y ", " y "\n\t"                                                                 \
    "smmlar " t ", " y ", r9, r11\n\t"                                                             \
    "add " t ", " t ", " y ", asr #31\n\t"                                                         \
    "asr " y ", " t ", r10\n\t"                                                                    \
    "ssat " y ", #8, " y "\n\t"
#define PW_RQ2(y, zp) PW_RQ2T(y, zp, "r1")
#define PW_SET2(zp, j, off) ""

/* every channel pair of one pixel pair: the 2x2 dot products over K, the four requantisations
   from the per-layer table, the four outputs clamped together (SSUB8/SEL) and stored as two
   halfwords; no call and no push/pop per block */
#define PW_PAIRS_ASM(RQ, SET, STEP) \
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
    STEP \
    "7:\n\t" \
    "lsrs r3, r3, #1\n\t" \
    "bcc 8f\n\t" \
    STEP \
    STEP \
    "8:\n\t" \
    "subs r3, r3, #1\n\t" /* passes left, less one: no borrow while one is left */ \
    "bcc 3f\n" \
    "2:\n\t" \
    STEP \
    STEP \
    STEP \
    STEP \
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
    __asm__ volatile(PW_PAIRS_ASM(PW_RQ, PW_SET, PW_STEP));
}

/* pw_pairs for a layer on the doubled form (pw_table) */
__attribute__((naked, noinline)) static void pw_pairs2(pw_job *j) {
    __asm__ volatile(PW_PAIRS_ASM(PW_RQ2, PW_SET2, PW_STEP));
}

/* pw_pairs and pw_pairs2 for the one pixel left after the pairs (PW_STEP1) */
__attribute__((naked, noinline)) static void pw_one(pw_job *j) {
    __asm__ volatile(PW_PAIRS_ASM(PW_RQ, PW_SET, PW_STEP1));
}
__attribute__((naked, noinline)) static void pw_one2(pw_job *j) {
    __asm__ volatile(PW_PAIRS_ASM(PW_RQ2, PW_SET2, PW_STEP1));
}

/* What pw_quads reads and advances (offsets fixed in its assembly, from r2 = &x: the fields
   before x are read by one LDMDB). */
typedef struct {
    int32_t clamp;     /* -20: as pw_job's */
    const int32_t *te; /* -16: the table's end */
    int8_t *o;         /* -12: the first pixel's output at the channel */
    int32_t oc, oc3;   /* -8, -4: bytes from one pixel's outputs to the next's, and 3 times */
    const uint32_t *x; /* 0: four pixels' inputs, per 4 K: each pixel's even, odd lanes */
    int32_t passes;    /* 4: whole passes of PW4_U steps after the first (pw4_entry) */
    const int32_t *t;  /* 8: the channel's table entry (pw_table) */
    int32_t wskip;     /* 12: from the end of a weight row to the next (LDRD with t) */
    int32_t zp;        /* 16 */
    uint32_t lo4, hi4; /* 20, 24 (LDRD) */
    uint32_t entry;    /* 28: where the first pass enters the unrolled steps (Thumb bit set) */
    const int8_t *w;   /* 32: the first channel's weight row (then r1 throughout) */
} pw4_job;

/* pw_quads' steps of 4 K unrolled PW4_U times; a channel's first pass enters (n4 - 1) % PW4_U + 1
   steps before the block's end by one LDR to the PC (one count and branch a pass) */
#define PW4_U 32

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
#define PW4_STEP4 PW4_STEP PW4_STEP PW4_STEP PW4_STEP
#define PW_QUADS_ASM(RQ, SET, S, E) \
    "push {r0, r4-r11, lr}\n\t" \
    "add r2, r0, #20\n\t" \
    "ldr r1, [r2, #32]\n" \
    "1:\n\t" \
    "ldm r2, {r0, r3, r4}\n\t" /* x, passes, t */ \
    "ldr r4, [r4]\n\t"              /* the sums start at the channel's bias */ \
    "mov r5, r4\n\t" \
    "mov r6, r4\n\t" \
    "mov r7, r4\n\t" \
    "ldr pc, [r2, #28]\n" /* into the unrolled steps (pw4_entry) */ \
    ".global " S "\n" S ":\n" \
    "2:\n\t" \
    PW4_STEP4 PW4_STEP4 PW4_STEP4 PW4_STEP4 PW4_STEP4 PW4_STEP4 PW4_STEP4 PW4_STEP4 \
    ".global " E "\n" E ":\n\t" \
    "subs r3, r3, #1\n\t" /* passes left, less one: no borrow while one is left */ \
    "bcs 2b\n\t" \
    "ldrd r0, r3, [r2, #8]\n\t" /* t, wskip */ \
    "add r1, r1, r3\n\t" \
    "ldmia r0!, {r8-r11}\n\t" /* r8 (the bias): the requantisations' scratch */ \
    "str r0, [r2, #8]\n\t" \
    SET("r12", "r2", "#16") \
    RQ("r4", "r12", "r8") \
    RQ("r5", "r12", "r8") \
    RQ("r6", "r12", "r8") \
    RQ("r7", "r12", "r8") \
    "ldmdb r2, {r3, r8, r10, r11, r12}\n\t" /* clamp, te, o, oc, 3 oc */ \
    "cbnz r3, 5f\n" /* int8 bounds: SSAT did it */ \
    "6:\n\t" \
    "strb r5, [r10, r11]\n\t" \
    "strb r6, [r10, r11, lsl #1]\n\t" \
    "strb r7, [r10, r12]\n\t" \
    "strb r4, [r10], #1\n\t" \
    "str r10, [r2, #-12]\n\t" \
    "cmp r0, r8\n\t" \
    "bne 1b\n\t" \
    "pop {r0, r4-r11, pc}\n" \
    "5:\n\t" /* narrower bounds: packed, clamped together, unpacked (STRB keeps the low byte) */ \
    "bfi r4, r5, #8, #8\n\t" \
    "bfi r6, r7, #8, #8\n\t" \
    "bfi r4, r6, #16, #16\n\t" \
    "ldrd r9, lr, [r2, #20]\n\t" \
    "ssub8 r3, r4, r9\n\t" \
    "sel r4, r4, r9\n\t" \
    "ssub8 r3, lr, r4\n\t" \
    "sel r4, r4, lr\n\t" \
    "lsrs r5, r4, #8\n\t" \
    "lsrs r6, r4, #16\n\t" \
    "lsrs r7, r4, #24\n\t" \
    "b 6b\n"

__attribute__((naked, noinline)) static void pw_quads(pw4_job *j) {
    __asm__ volatile(PW_QUADS_ASM(PW_RQT, PW_SET, "vp_pw4_s1", "vp_pw4_e1"));
}

/* pw_quads for a layer on the doubled form (pw_table) */
__attribute__((naked, noinline)) static void pw_quads2(pw4_job *j) {
    __asm__ volatile(PW_QUADS_ASM(PW_RQ2T, PW_SET2, "vp_pw4_s2", "vp_pw4_e2"));
}

/* the unrolled blocks' bounds in pw_quads and pw_quads2 (labels in their assembly) */
extern const uint8_t vp_pw4_s1[], vp_pw4_e1[], vp_pw4_s2[], vp_pw4_e2[];

/* the entry of pw_quads (dbl: pw_quads2) for n4 steps a channel, and the whole passes after it */
static uint32_t pw4_entry(int dbl, int32_t n4, int32_t *passes) {
    const uint8_t *s = dbl ? vp_pw4_s2 : vp_pw4_s1, *e = dbl ? vp_pw4_e2 : vp_pw4_e1;
    uint32_t step = (uint32_t)(e - s) / PW4_U, r = (uint32_t)(n4 - 1) % PW4_U + 1;
    *passes = (n4 - 1) / PW4_U;
    return ((uint32_t)(uintptr_t)e - r * step) | 1u;
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

/* the four rows of pixels p..p+3 into r: in place (direct_rows; on one output row they lie
   SW * IC apart) or gathered into buf */
static void quad_rows_at(const vp_layer *L, const uint8_t *a, int32_t p, int8_t *buf,
                         int32_t stride, const int8_t **r) {
    int32_t i, dx = W(SW) * W(IC);
    if (buf) {
        vp_im2col_quad(L, a, p, buf, stride);
        for (i = 0; i < 4; i++) r[i] = buf + i * stride;
    } else if (W(OP) != VP_OP_FULLY_CONNECTED && p % W(OW) + 3 < W(OW)) {
        r[0] = vp_input_row(L, a, p, 0);
        for (i = 1; i < 4; i++) r[i] = r[0] + i * dx;
    } else {
        for (i = 0; i < 4; i++) r[i] = vp_input_row(L, a, p + i, 0);
    }
}

/* pixels four at a time, one channel per pass (rows in place, or gathered into buf: four
   rows P->stride apart); returns the first pixel left for the pairs */
static int32_t conv_quads_dsp(const vp_layer *L, const pw_job *P, int dbl, uint8_t *a,
                              uint32_t *xr, int8_t *buf) {
    int32_t oc_n = W(OC), n_pix = W(OH) * W(OW), p, k4 = P->n4 * 4;
    pw4_job J;
    J.entry = pw4_entry(dbl, P->n4, &J.passes), J.oc = oc_n, J.oc3 = 3 * oc_n, J.te = P->te;
    J.zp = P->zp, J.lo4 = P->lo4, J.hi4 = P->hi4, J.wskip = P->stride - k4, J.clamp = P->clamp;
    for (p = 0; p + 4 <= n_pix; p += 4) {
        const int8_t *r[4];
        quad_rows_at(L, a, p, buf, P->stride, r);
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
   Scratch: the table (16 bytes a channel), the int16 rows, four or two int8 im2col rows. */
int vp_conv_rows_dsp(const vp_model_info *m, const vp_layer *L, uint8_t *a) {
    const uint8_t *v = m->vpw;
    int32_t oc_n = W(OC), stride = W(CH_STRIDE), n_pix = W(OH) * W(OW), p = 0;
    int32_t kn = W(KH) * W(KW) * W(IC), k4 = (kn + 3) & ~3, direct = direct_rows(L), dbl;
    int32_t quad = quad_rows(L, k4), *tab = (int32_t *)(void *)(a + W(SCRATCH));
    uint32_t *xr = (uint32_t *)(void *)(a + W(SCRATCH) + 16 * oc_n);
    int8_t *buf = (int8_t *)a + W(SCRATCH) + 16 * oc_n + (quad ? 8 : 4) * k4;
    pw_job J;
    if ((dbl = pw_table(L, v, kn, tab)) < 0) return 0;
    if (!direct) memset(buf, 0, (size_t)((quad ? 4 : 2) * stride));
    J.stride = stride, J.n4 = k4 >> 2, J.zp = W(OUT_ZP), J.wskip = 2 * stride - k4;
    J.te = tab + 4 * oc_n, J.w = (const int8_t *)v + L->data, J.t = tab;
    J.lo4 = (uint32_t)(uint8_t)W(ACT_MIN) * 0x01010101u;
    J.hi4 = (uint32_t)(uint8_t)W(ACT_MAX) * 0x01010101u;
    J.clamp = W(ACT_MIN) > -128 || W(ACT_MAX) < 127;
    if (quad) p = conv_quads_dsp(L, &J, dbl, a, xr, direct ? 0 : buf);
    for (; p < n_pix; p += 2) {
        int two = p + 1 < n_pix;
        const int8_t *r[2];
        r[0] = vp_input_row(L, a, p, buf);
        r[1] = two ? vp_input_row(L, a, p + 1, buf + stride) : r[0];
        pw_widen(r, 2, k4, xr);
        J.x = xr, J.w = (const int8_t *)v + L->data, J.t = tab;
        J.o = (int8_t *)a + W(OUT) + p * oc_n, J.d = two ? oc_n : 0;
        if (dbl)
            (two ? pw_pairs2 : pw_one2)(&J);
        else
            (two ? pw_pairs : pw_one)(&J);
    }
    return 1;
}
#endif
