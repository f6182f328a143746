/* fw_model.c: the engine behind a small interface (vp_engine.h and vp_proto.h both define
 * VP_HEADER_SIZE, so they never meet in one translation unit). */
#include <string.h>

#include "fw.h"
#include "vp_engine.h"

typedef char fw_info_fits[(sizeof(vp_model_info) <= sizeof(((fw_model_t *)0)->opaque)) ? 1 : -1];

static const vp_model_info *info(const fw_model_t *m) { return (const vp_model_info *)m->opaque; }

int fw_model_open(fw_model_t *m, const uint8_t *vpw, uint32_t len)
{
    vp_model_info *i = (vp_model_info *)m->opaque;
    memset(m, 0, sizeof *m);
    if (vp_engine_check(vpw, len, i) != VP_OK) return -1;
    m->in_size = i->in_size;
    m->out_size = i->out_size;
    m->arena_size = i->arena_size;
    m->out_zp = i->out_zp;
    memcpy(&m->out_scale_bits, vpw + 132, 4); /* header: output scale (f32 bits) */
    m->has_golden = i->golden_offset != 0;
    return 0;
}

int fw_model_run(const fw_model_t *m, const int8_t *in, int8_t *out, uint8_t *arena)
{
    return vp_engine_run(info(m), in, out, arena, FW_ARENA_SIZE) == VP_OK ? 0 : -1;
}

int fw_model_self_test(const fw_model_t *m, uint8_t *arena, int8_t *out)
{
    if (!m->has_golden) return -1;
    return vp_engine_self_test(info(m), arena, FW_ARENA_SIZE, out) == VP_OK ? 0 : -1;
}
