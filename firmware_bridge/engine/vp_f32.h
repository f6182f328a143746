/*
 * Integer-only IEEE-754 binary32 arithmetic on non-negative finite values, round to nearest even.
 * LiteRT's int8 SOFTMAX computes in float32; replaying the same float operations bit for bit
 * with integers keeps the engine free of floating point yet identical to the reference.
 */
#ifndef VP_F32_H
#define VP_F32_H
#include <stdint.h>

uint32_t vp_f32_add(uint32_t a, uint32_t b);
uint32_t vp_f32_mul(uint32_t a, uint32_t b);
uint32_t vp_f32_div(uint32_t a, uint32_t b);
/* std::round (half away from zero) to int32, saturating at 2^30 */
int32_t vp_f32_round(uint32_t a);

#endif
