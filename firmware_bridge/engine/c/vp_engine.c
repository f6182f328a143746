/*
 * vp_engine: int8 kernels that reproduce LiteRT's reference kernels bit for bit.
 * Model bytes are read with explicit little-endian loads (no casts of the buffer), the
 * activation arena is a plain byte array indexed by the offsets the converter planned.
 */
#include "vp_engine.h"
#include "vp_engine_ops.h"
#include "vp_kernels.h"

#include <string.h>

typedef vp_layer layer_t;

static void load_layer(const vp_model_info *m, uint32_t i, layer_t *L) {
    uint32_t base = m->layers_offset + i * (uint32_t)(VP_DESC_WORDS * 4);
    int k;
    for (k = 0; k < VP_DESC_WORDS; k++) L->w[k] = vp_rd32(m->vpw, base + 4u * (uint32_t)k);
    L->data = m->data_offset + (uint32_t)L->w[VP_W_DATA];
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

/* MUL: the strides of both inputs non-negative and every element they read in bounds */
static int check_mul(const vp_model_info *m, const layer_t *L, int64_t in_n) {
    int32_t y;
    for (y = 2; y <= 7; y++)
        if (P(y) < 0) return 0;
    return !(P(1) > 30 || P(1) < -31 || P(0) < 0 ||
             !in_arena(m, W(IN2), (int64_t)(W(OH) - 1) * P(5) + (int64_t)(W(OW) - 1) * P(6) +
                                      (int64_t)(W(OC) - 1) * P(7) + 1) ||
             (int64_t)(W(OH) - 1) * P(2) + (int64_t)(W(OW) - 1) * P(3) +
                     (int64_t)(W(OC) - 1) * P(4) + 1 >
                 in_n);
}

/* nearest resize: its row and column tables in the data and every index inside the input */
static int check_resize(const vp_model_info *m, const layer_t *L) {
    int32_t y;
    if (W(IC) != W(OC) || W(DATA_LEN) < 4 * ((int64_t)W(OH) + W(OW))) return 0;
    for (y = 0; y < W(OH) + W(OW); y++) {
        int32_t v = vp_rd32(m->vpw, L->data + 4u * (uint32_t)y);
        if (v < 0 || v >= (y < W(OH) ? W(IH) : W(IW))) return 0;
    }
    return 1;
}

/* the ops over a flat run of bytes (RESHAPE, LUT, COPY): counts and both ends in the arena */
static int check_flat(const vp_model_info *m, const layer_t *L) {
    if (W(OP) == VP_OP_RESHAPE)
        return W(COUNT) >= 0 && in_arena(m, W(IN), W(COUNT)) && in_arena(m, W(OUT), W(COUNT));
    if (W(OP) == VP_OP_LUT)
        return W(COUNT) >= 0 && W(DATA_LEN) >= 256 && in_arena(m, W(IN), W(COUNT)) &&
               in_arena(m, W(OUT), W(COUNT));
    return P(0) >= 0 && P(1) >= 0 && P(2) >= P(1) && P(3) >= 0 && P(3) <= P(2) - P(1) &&
           P(2) <= 0x7FFFFFFF / (P(0) > 0 ? P(0) : 1) &&
           in_arena(m, W(IN), (int64_t)P(0) * P(1)) && in_arena(m, W(OUT), (int64_t)P(0) * P(2));
}

static int check_layer(const vp_model_info *m, const layer_t *L) {
    int64_t in_n = (int64_t)W(IH) * W(IW) * W(IC), out_n = (int64_t)W(OH) * W(OW) * W(OC);
    int64_t need = 0;
    int32_t op = W(OP);
    if (W(DATA) < 0 || W(DATA_LEN) < 0 ||
        (int64_t)W(DATA) + W(DATA_LEN) > (int64_t)m->data_size)
        return 0;
    if (op == VP_OP_RESHAPE || op == VP_OP_LUT || op == VP_OP_COPY) return check_flat(m, L);
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
            if (!check_mul(m, L, in_n)) return 0;
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
            if (!check_resize(m, L)) return 0;
            need = 4 * ((int64_t)W(OH) + W(OW));
            break;
        default:
            return 0;
    }
    return W(DATA_LEN) >= need;
}

/* the header's fields into m, each checked against the file's length and the arena */
static int read_header(const uint8_t *vpw, size_t len, vp_model_info *mp) {
    vp_model_info m = *mp;
    int k;
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
    *mp = m;
    return VP_OK;
}

int vp_engine_check(const uint8_t *vpw, size_t len, vp_model_info *out) {
    vp_model_info m;
    uint32_t i;
    int rc;
    if (vpw == 0 || out == 0) return VP_ERR_ARG;
    memset(&m, 0, sizeof(m));
    m.bad_layer = -1;
    *out = m;
    rc = read_header(vpw, len, &m);
    if (rc != VP_OK) return rc;
    for (i = 0; i < m.n_layers; i++) {
        layer_t L;
        load_layer(&m, i, &L);
        if (!check_layer(&m, &L)) {
            m.bad_layer = (int32_t)i;
            *out = m;
            return (L.w[VP_W_OP] < 1 || L.w[VP_W_OP] > VP_OP_LAST) ? VP_ERR_OP : VP_ERR_BOUNDS;
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
        case VP_OP_ADD: vp_op_add(L, scratch); break;
        case VP_OP_AVERAGE_POOL_2D: vp_op_pool(L, scratch, 0); break;
        case VP_OP_MAX_POOL_2D: vp_op_pool(L, scratch, 1); break;
        case VP_OP_MEAN: vp_op_mean(L, scratch); break;
        case VP_OP_RESHAPE:
            memmove(scratch + W(OUT), scratch + W(IN), (size_t)W(COUNT));
            break;
        case VP_OP_PAD: vp_op_pad(L, scratch); break;
        case VP_OP_SOFTMAX: vp_op_softmax(m, L, scratch); break;
        case VP_OP_RESIZE_NEAREST_NEIGHBOR: vp_op_resize_nearest(m, L, scratch); break;
        case VP_OP_LUT: vp_op_lut(m, L, scratch); break;
        case VP_OP_MUL: vp_op_mul(L, scratch); break;
        case VP_OP_COPY: vp_op_copy(L, scratch); break;
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
        if ((uint8_t)output_buf[i] != m->vpw[m->golden_offset + m->in_size + i]) return VP_ERR_GOLDEN;
    return VP_OK;
}
