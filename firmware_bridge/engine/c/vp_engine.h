/*
 * vp_engine: portable int8 inference for .vpw models (see docs/vpw.md).
 *
 * C99, no malloc, no recursion, no floating point, no libc beyond string.h/stdint.h.
 * Results are bit-exact with LiteRT's int8 reference kernels (BUILTIN_REF).
 * The caller provides one scratch arena of vp_model_info.arena_size bytes.
 */
#ifndef VP_ENGINE_H
#define VP_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VP_VERSION 3
#define VP_HEADER_SIZE 160
#define VP_DESC_WORDS 48
#define VP_P0 32
#define VP_FLAG_GOLDEN 1
#define VP_MAX_LAYERS 4096
#define VP_MAX_DIM 65535

/* op codes (converters/vpw_format.py OPS) */
#define VP_OP_CONV_2D 1
#define VP_OP_DEPTHWISE_CONV_2D 2
#define VP_OP_FULLY_CONNECTED 3
#define VP_OP_ADD 4
#define VP_OP_AVERAGE_POOL_2D 5
#define VP_OP_MAX_POOL_2D 6
#define VP_OP_MEAN 7
#define VP_OP_RESHAPE 8
#define VP_OP_PAD 9
#define VP_OP_SOFTMAX 10
#define VP_OP_RESIZE_NEAREST_NEIGHBOR 11
#define VP_OP_RESIZE_BILINEAR 12
#define VP_OP_LUT 13  /* element-wise int8 -> int8 table (LOGISTIC, HARD_SWISH, QUANTIZE) */
#define VP_OP_MUL 14
#define VP_OP_COPY 15 /* strided block copy (one input of a CONCATENATION) */
#define VP_OP_LAST 15

/* descriptor word indices (converters/vpw_format.py WORDS) */
#define VP_W_OP 0
#define VP_W_ACT_MIN 1
#define VP_W_ACT_MAX 2
#define VP_W_IN 3
#define VP_W_IN2 4
#define VP_W_OUT 5
#define VP_W_IH 6
#define VP_W_IW 7
#define VP_W_IC 8
#define VP_W_OH 9
#define VP_W_OW 10
#define VP_W_OC 11
#define VP_W_IN_ZP 12
#define VP_W_IN2_ZP 13
#define VP_W_OUT_ZP 14
#define VP_W_KH 15
#define VP_W_KW 16
#define VP_W_SH 17
#define VP_W_SW 18
#define VP_W_DH 19
#define VP_W_DW 20
#define VP_W_PT 21
#define VP_W_PL 22
#define VP_W_DMUL 23
#define VP_W_DATA 24
#define VP_W_DATA_LEN 25
#define VP_W_CH_STRIDE 26
#define VP_W_TENSOR 27
#define VP_W_TFL_OP 28
#define VP_W_COUNT 29
#define VP_W_SCRATCH 30 /* arena offset of the layer's scratch (im2col rows) */

/* header byte offsets (converters/vpw_format.py HDR) */
#define VP_H_FLAGS 48
#define VP_H_N_LAYERS 52
#define VP_H_DESC_SIZE 56
#define VP_H_LAYERS_OFFSET 60
#define VP_H_DATA_OFFSET 64
#define VP_H_DATA_SIZE 68
#define VP_H_GOLDEN_OFFSET 72
#define VP_H_ARENA_SIZE 76
#define VP_H_OP_SCRATCH_SIZE 80
#define VP_H_STREAM_WORD_BYTES 84
#define VP_H_IN_N 88
#define VP_H_IN_ZP 104
#define VP_H_OUT_N 112
#define VP_H_OUT_ZP 128
#define VP_H_IN_OFFSET 136
#define VP_H_OUT_OFFSET 140
#define VP_H_IN_SIZE 144
#define VP_H_OUT_SIZE 148
#define VP_H_TARGET 152

/* weight layout the packer chose (vp-edge pack --target) */
#define VP_TARGET_GENERIC 0   /* k-major weights: vectorising hosts, PYNQ */
#define VP_TARGET_CORTEX_M4 1 /* oc-major weights, SXTB16/SMLAD blocking */
#define VP_TARGET_CORTEX_M7 2

/* status codes */
#define VP_OK 0
#define VP_ERR_ARG (-1)
#define VP_ERR_MAGIC (-2)
#define VP_ERR_VERSION (-3)
#define VP_ERR_SIZE (-4)
#define VP_ERR_BOUNDS (-5)
#define VP_ERR_OP (-6)
#define VP_ERR_SCRATCH (-7)
#define VP_ERR_GOLDEN (-8)
#define VP_ERR_TARGET (-9) /* packed for another target: repack with --target */

typedef struct {
    const uint8_t *vpw;      /* the model bytes (not copied: keep them alive) */
    uint32_t len;
    uint32_t n_layers;
    uint32_t arena_size;     /* scratch bytes vp_engine_run needs */
    uint32_t in_size, out_size;
    uint32_t in_offset, out_offset;
    int32_t in_shape[4], out_shape[4];
    int32_t in_zp, out_zp;
    uint32_t layers_offset, data_offset, data_size;
    uint32_t golden_offset;  /* 0 when the model has no golden section */
    int32_t bad_layer;       /* layer that failed vp_engine_check, -1 if none */
    int32_t target;          /* VP_TARGET_* the file was packed for */
} vp_model_info;

/* Validate a .vpw (magic, version, sizes, every descriptor's bounds); fill *out. */
int vp_engine_check(const uint8_t *vpw, size_t len, vp_model_info *out);

/* Whole inference: input (in_size int8) -> output (out_size int8). */
int vp_engine_run(const vp_model_info *m, const int8_t *input, int8_t *output,
                  uint8_t *scratch, size_t scratch_len);

/* Step-wise use (debugging, or a firmware that yields between layers). */
int vp_engine_load_input(const vp_model_info *m, const int8_t *input, uint8_t *scratch,
                         size_t scratch_len);
int vp_engine_run_layer(const vp_model_info *m, uint32_t index, uint8_t *scratch,
                        size_t scratch_len);
int vp_engine_read_output(const vp_model_info *m, int8_t *output, const uint8_t *scratch,
                          size_t scratch_len);

/* Run the golden input and compare with the stored output: VP_OK or VP_ERR_GOLDEN. */
int vp_engine_self_test(const vp_model_info *m, uint8_t *scratch, size_t scratch_len,
                        int8_t *output_buf);

#ifdef __cplusplus
}
#endif
#endif /* VP_ENGINE_H */
