/* Integer-only float32 arithmetic for non-negative finite operands: see vp_f32.h. */
#include "vp_f32.h"

#define F32_INF 0x7F800000u

static int bitlen64(uint64_t m) {
    int n = 0;
    int i;
    for (i = 0; i < 64; i++) {
        if (m != 0) {
            n++;
            m >>= 1;
        }
    }
    return n;
}

/* mantissa and exponent of the exact value: v = m * 2^e */
static void unpack(uint32_t a, uint64_t *m, int32_t *e) {
    uint32_t ex = (a >> 23) & 0xFFu;
    uint32_t fr = a & 0x7FFFFFu;
    if (ex == 0u) {
        *m = fr;
        *e = -149;
    } else {
        *m = (uint64_t)(fr | 0x800000u);
        *e = (int32_t)ex - 150;
    }
}

/* round (m + sticky epsilon) * 2^e to binary32, nearest even */
static uint32_t round_pack(uint64_t m, int32_t e, int sticky) {
    int32_t nb, lsb, r;
    uint64_t q, rem, half;
    if (m == 0u) return 0u;
    nb = bitlen64(m);
    lsb = e + nb - 24;
    if (lsb < -149) lsb = -149;
    r = lsb - e;
    if (r <= 0) {
        q = m << (-r);
    } else if (r >= 64) {
        q = 0u; /* far below half of the smallest subnormal */
    } else {
        q = m >> r;
        rem = m & ((((uint64_t)1) << r) - 1u);
        half = ((uint64_t)1) << (r - 1);
        if (rem > half || (rem == half && (sticky || (q & 1u)))) q++;
    }
    if (q >= (((uint64_t)1) << 24)) {
        q >>= 1;
        lsb++;
    }
    if (q >= (((uint64_t)1) << 23)) {
        if (lsb + 150 >= 255) return F32_INF;
        return ((uint32_t)(lsb + 150) << 23) | (uint32_t)(q & 0x7FFFFFu);
    }
    return (uint32_t)q; /* subnormal (or zero) */
}

uint32_t vp_f32_add(uint32_t a, uint32_t b) {
    uint64_t ma, mb, t;
    int32_t ea, eb, te, d;
    if (a == 0u) return b;
    if (b == 0u) return a;
    unpack(a, &ma, &ea);
    unpack(b, &mb, &eb);
    if (eb > ea) {
        t = ma; ma = mb; mb = t;
        te = ea; ea = eb; eb = te;
    }
    d = ea - eb;
    if (d <= 38) return round_pack((ma << d) + mb, eb, 0);
    return round_pack(ma << 3, ea - 3, mb != 0u); /* b is far below half an ulp of a */
}

uint32_t vp_f32_mul(uint32_t a, uint32_t b) {
    uint64_t ma, mb;
    int32_t ea, eb;
    if (a == 0u || b == 0u) return 0u;
    unpack(a, &ma, &ea);
    unpack(b, &mb, &eb);
    return round_pack(ma * mb, ea + eb, 0);
}

static void normalize(uint64_t *m, int32_t *e) {
    int i;
    for (i = 0; i < 24; i++) {
        if (*m < (((uint64_t)1) << 23)) {
            *m <<= 1;
            (*e)--;
        }
    }
}

uint32_t vp_f32_div(uint32_t a, uint32_t b) {
    uint64_t ma, mb, num, q;
    int32_t ea, eb;
    if (b == 0u) return F32_INF;
    if (a == 0u) return 0u;
    unpack(a, &ma, &ea);
    unpack(b, &mb, &eb);
    normalize(&ma, &ea);
    normalize(&mb, &eb);
    num = ma << 30;
    q = num / mb;
    return round_pack(q, ea - eb - 30, (num % mb) != 0u);
}

int32_t vp_f32_round(uint32_t a) {
    uint64_t m, ip, frac;
    int32_t e, r;
    if (a == 0u) return 0;
    unpack(a, &m, &e);
    if (e >= 0) return (e > 6) ? (1 << 30) : (int32_t)(m << e);
    r = -e;
    if (r > 40) return 0;
    ip = m >> r;
    frac = m & ((((uint64_t)1) << r) - 1u);
    if (frac >= (((uint64_t)1) << (r - 1))) ip++;
    if (ip > (uint64_t)(1 << 30)) return 1 << 30;
    return (int32_t)ip;
}
