/*
 * Internal to the engine: the operators of vp_engine_ops.c, one per op code the layer loop in
 * vp_engine.c dispatches (not part of the public API, vp_engine.h).
 */
#ifndef VP_ENGINE_OPS_H
#define VP_ENGINE_OPS_H

#include "vp_kernels.h"

void vp_op_add(const vp_layer *L, uint8_t *a);
void vp_op_pool(const vp_layer *L, uint8_t *a, int is_max);
void vp_op_mean(const vp_layer *L, uint8_t *a);
void vp_op_pad(const vp_layer *L, uint8_t *a);
void vp_op_softmax(const vp_model_info *m, const vp_layer *L, uint8_t *a);
void vp_op_resize_nearest(const vp_model_info *m, const vp_layer *L, uint8_t *a);
void vp_op_lut(const vp_model_info *m, const vp_layer *L, uint8_t *a);
void vp_op_mul(const vp_layer *L, uint8_t *a);
void vp_op_copy(const vp_layer *L, uint8_t *a);

#endif /* VP_ENGINE_OPS_H */
