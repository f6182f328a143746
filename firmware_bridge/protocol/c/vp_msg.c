/* vp_msg.c: payload pack/unpack of every message type, chunking and INFER reassembly (see
 * vp_proto.h). Calls nothing of vp_proto.c: the frame codec validates payloads with
 * vp_msg_unpack, so the dependency runs vp_proto.c -> vp_msg.c only. */
#include <string.h>

#include "vp_le.h"
#include "vp_proto.h"

static int printable(const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] > 0x7E) return 0;
    return 1;
}

static int fixed(size_t n, size_t want) { return n == want ? 0 : -1; }

static int unpack_hello(const uint8_t *p, size_t n, vp_hello_t *h)
{
    uint32_t scale;
    if (n < VP_FIXED_HELLO) return -1;
    h->board_kind = p[0];
    h->k = p[1];
    h->num_classes = rd16(p + 2);
    h->input_bytes = rd32(p + 4);
    h->max_frame = rd16(p + 8);
    h->score_zero_point = (int8_t)p[10];
    scale = rd32(p + 12);
    memcpy(&h->score_scale, &scale, 4);
    memcpy(h->model_sha256, p + 16, 32);
    h->name_len = p[48];
    if (h->board_kind > VP_BOARD_EMULATED || h->k > VP_MAX_K) return -1; /* k = 0: answers TENSOR */
    if (h->name_len > VP_MAX_NAME || n != VP_FIXED_HELLO + (size_t)h->name_len) return -1;
    if (!printable(p + VP_FIXED_HELLO, h->name_len)) return -1;
    memcpy(h->variant, p + VP_FIXED_HELLO, h->name_len);
    h->variant[h->name_len] = 0;
    return 0;
}

static int unpack_infer(const uint8_t *p, size_t n, vp_infer_t *c)
{
    if (n <= VP_FIXED_INFER) return -1;
    c->chunk_index = rd16(p);
    c->chunk_count = rd16(p + 2);
    c->offset = rd32(p + 4);
    c->total = rd32(p + 8);
    c->data = p + VP_FIXED_INFER;
    c->len = (uint16_t)(n - VP_FIXED_INFER);
    if (c->chunk_index >= c->chunk_count) return -1;
    if ((uint64_t)c->offset + c->len > c->total) return -1;
    return 0;
}

/* TENSOR and INFER_STAGE: a 4-byte head (compute_us, or stage + 3 zero bytes) then INFER. */
static int unpack_tensor(const uint8_t *p, size_t n, vp_tensor_t *t)
{
    if (n < 4) return -1;
    t->compute_us = rd32(p);
    return unpack_infer(p + 4, n - 4, &t->chunk);
}

static int unpack_infer_stage(const uint8_t *p, size_t n, vp_infer_stage_t *s)
{
    if (n < 4 || p[1] || p[2] || p[3]) return -1;
    s->stage = p[0];
    return unpack_infer(p + 4, n - 4, &s->chunk);
}

static int unpack_result(const uint8_t *p, size_t n, vp_result_t *r)
{
    unsigned i;
    if (n < VP_FIXED_RESULT) return -1;
    r->compute_us = rd32(p);
    r->k = p[4];
    if (r->k < 1 || r->k > VP_MAX_K || n != VP_FIXED_RESULT + 3u * r->k) return -1;
    for (i = 0; i < r->k; i++) {
        r->pairs[i].cls = rd16(p + 5 + 3 * i);
        r->pairs[i].score = (int8_t)p[7 + 3 * i];
    }
    return 0;
}

int vp_msg_unpack(uint8_t type, const uint8_t *p, size_t n, vp_msg_t *m)
{
    unsigned i;
    m->type = type;
    switch (type) {
    case VP_MSG_HELLO:
        return unpack_hello(p, n, &m->u.hello);
    case VP_MSG_PROBE:
        if (fixed(n, VP_FIXED_PROBE)) return -1;
        m->u.probe.want = p[0];
        return (p[0] == VP_MSG_HELLO || p[0] == VP_MSG_HEARTBEAT) ? 0 : -1;
    case VP_MSG_HEARTBEAT: {
        vp_heartbeat_t *hb = &m->u.heartbeat;
        uint32_t v[6];
        if (fixed(n, VP_FIXED_HEARTBEAT)) return -1;
        for (i = 0; i < 6; i++) v[i] = rd32(p + 4 * i);
        hb->uptime_s = v[0], hb->rx_ok = v[1], hb->rx_dropped = v[2];
        hb->tx = v[3], hb->inferences = v[4], hb->errors = v[5];
        return 0;
    }
    case VP_MSG_INFER:
        return unpack_infer(p, n, &m->u.infer);
    case VP_MSG_RESULT:
        return unpack_result(p, n, &m->u.result);
    case VP_MSG_TENSOR:
        return unpack_tensor(p, n, &m->u.tensor);
    case VP_MSG_INFER_STAGE:
        return unpack_infer_stage(p, n, &m->u.infer_stage);
    case VP_MSG_ERROR:
        if (fixed(n, VP_FIXED_ERROR)) return -1;
        m->u.error.status = rd16(p);
        m->u.error.detail = rd32(p + 2);
        return m->u.error.status < VP_STATUS_COUNT ? 0 : -1;
    case VP_MSG_LOAD_BEGIN:
        if (fixed(n, VP_FIXED_LOAD_BEGIN)) return -1;
        m->u.load_begin.size = rd32(p);
        m->u.load_begin.slot = p[4];
        memcpy(m->u.load_begin.sha256, p + 8, 32);
        memcpy(m->u.load_begin.hmac_sha256, p + 40, 32);
        return m->u.load_begin.size > 0 ? 0 : -1;
    case VP_MSG_LOAD_CHUNK:
        if (n <= VP_FIXED_LOAD_CHUNK) return -1;
        m->u.load_chunk.offset = rd32(p);
        m->u.load_chunk.crc32c = rd32(p + 4);
        m->u.load_chunk.data = p + VP_FIXED_LOAD_CHUNK;
        m->u.load_chunk.len = (uint16_t)(n - VP_FIXED_LOAD_CHUNK);
        return 0;
    case VP_MSG_LOAD_COMMIT:
        if (fixed(n, VP_FIXED_LOAD_COMMIT)) return -1;
        m->u.load_commit.activate = p[0];
        return p[0] <= 1 ? 0 : -1;
    case VP_MSG_LOAD_ACK:
        if (fixed(n, VP_FIXED_LOAD_ACK)) return -1;
        m->u.load_ack.acked = p[0];
        m->u.load_ack.status = rd16(p + 2);
        m->u.load_ack.next_offset = rd32(p + 4);
        if (p[0] != VP_MSG_LOAD_BEGIN && p[0] != VP_MSG_LOAD_CHUNK && p[0] != VP_MSG_LOAD_COMMIT)
            return -1;
        return m->u.load_ack.status < VP_STATUS_COUNT ? 0 : -1;
    case VP_MSG_READBACK:
        if (fixed(n, VP_FIXED_READBACK)) return -1;
        m->u.readback.slot = p[0];
        return 0;
    case VP_MSG_READBACK_REPLY:
        if (fixed(n, VP_FIXED_READBACK_REPLY)) return -1;
        m->u.readback_reply.slot = p[0];
        m->u.readback_reply.status = rd16(p + 2);
        m->u.readback_reply.size = rd32(p + 4);
        memcpy(m->u.readback_reply.sha256, p + 8, 32);
        return m->u.readback_reply.status < VP_STATUS_COUNT ? 0 : -1;
    default:
        return -1;
    }
}

static size_t pack_hello(const vp_hello_t *h, uint8_t *o, size_t cap)
{
    uint32_t scale;
    size_t n = VP_FIXED_HELLO + (size_t)h->name_len;
    if (n > cap || h->name_len > VP_MAX_NAME || h->k > VP_MAX_K) return 0;
    if (!printable((const uint8_t *)h->variant, h->name_len)) return 0;
    o[0] = h->board_kind;
    o[1] = h->k;
    wr16(o + 2, h->num_classes);
    wr32(o + 4, h->input_bytes);
    wr16(o + 8, h->max_frame);
    o[10] = (uint8_t)h->score_zero_point;
    o[11] = 0;
    memcpy(&scale, &h->score_scale, 4);
    wr32(o + 12, scale);
    memcpy(o + 16, h->model_sha256, 32);
    o[48] = h->name_len;
    memcpy(o + VP_FIXED_HELLO, h->variant, h->name_len);
    return n;
}

static size_t pack_data(uint8_t *o, size_t cap, size_t head, const uint8_t *d, uint16_t len)
{
    if (len == 0 || head + len > cap) return 0;
    memmove(o + head, d, len);
    return head + len;
}

static size_t pack_infer(const vp_infer_t *c, uint8_t *o, size_t cap)
{
    if (cap < VP_FIXED_INFER || c->chunk_index >= c->chunk_count) return 0;
    if ((uint64_t)c->offset + c->len > c->total) return 0;
    wr16(o, c->chunk_index), wr16(o + 2, c->chunk_count);
    wr32(o + 4, c->offset), wr32(o + 8, c->total);
    return pack_data(o, cap, VP_FIXED_INFER, c->data, c->len);
}

/* TENSOR / INFER_STAGE: the 4 head bytes, then INFER's chunk layout. */
static size_t pack_headed_chunk(const uint8_t head[4], const vp_infer_t *c, uint8_t *o,
                                size_t cap)
{
    size_t n;
    if (cap < 4) return 0;
    n = pack_infer(c, o + 4, cap - 4); /* data may sit at o + 4 + 12 already: memmove */
    if (n == 0) return 0;
    memcpy(o, head, 4);
    return n + 4;
}

size_t vp_msg_pack(const vp_msg_t *m, uint8_t *o, size_t cap)
{
    uint8_t head[4] = {0, 0, 0, 0};
    unsigned i;
    switch (m->type) {
    case VP_MSG_HELLO:
        return pack_hello(&m->u.hello, o, cap);
    case VP_MSG_PROBE:
        if (cap < 1) return 0;
        o[0] = m->u.probe.want;
        return 1;
    case VP_MSG_HEARTBEAT: {
        const vp_heartbeat_t *h = &m->u.heartbeat;
        if (cap < VP_FIXED_HEARTBEAT) return 0;
        wr32(o, h->uptime_s), wr32(o + 4, h->rx_ok), wr32(o + 8, h->rx_dropped);
        wr32(o + 12, h->tx), wr32(o + 16, h->inferences), wr32(o + 20, h->errors);
        return VP_FIXED_HEARTBEAT;
    }
    case VP_MSG_INFER:
        return pack_infer(&m->u.infer, o, cap);
    case VP_MSG_TENSOR:
        wr32(head, m->u.tensor.compute_us);
        return pack_headed_chunk(head, &m->u.tensor.chunk, o, cap);
    case VP_MSG_INFER_STAGE:
        head[0] = m->u.infer_stage.stage;
        return pack_headed_chunk(head, &m->u.infer_stage.chunk, o, cap);
    case VP_MSG_RESULT: {
        const vp_result_t *r = &m->u.result;
        size_t n = VP_FIXED_RESULT + 3u * r->k;
        if (r->k < 1 || r->k > VP_MAX_K || n > cap) return 0;
        wr32(o, r->compute_us);
        o[4] = r->k;
        for (i = 0; i < r->k; i++) {
            wr16(o + 5 + 3 * i, r->pairs[i].cls);
            o[7 + 3 * i] = (uint8_t)r->pairs[i].score;
        }
        return n;
    }
    case VP_MSG_ERROR:
        if (cap < VP_FIXED_ERROR) return 0;
        wr16(o, m->u.error.status);
        wr32(o + 2, m->u.error.detail);
        return VP_FIXED_ERROR;
    case VP_MSG_LOAD_BEGIN:
        if (cap < VP_FIXED_LOAD_BEGIN || m->u.load_begin.size == 0) return 0;
        wr32(o, m->u.load_begin.size);
        o[4] = m->u.load_begin.slot;
        o[5] = o[6] = o[7] = 0;
        memcpy(o + 8, m->u.load_begin.sha256, 32);
        memcpy(o + 40, m->u.load_begin.hmac_sha256, 32);
        return VP_FIXED_LOAD_BEGIN;
    case VP_MSG_LOAD_CHUNK:
        if (cap < VP_FIXED_LOAD_CHUNK) return 0;
        wr32(o, m->u.load_chunk.offset);
        wr32(o + 4, m->u.load_chunk.crc32c);
        return pack_data(o, cap, VP_FIXED_LOAD_CHUNK, m->u.load_chunk.data, m->u.load_chunk.len);
    case VP_MSG_LOAD_COMMIT:
        if (cap < 1) return 0;
        o[0] = m->u.load_commit.activate ? 1 : 0;
        return 1;
    case VP_MSG_LOAD_ACK:
        if (cap < VP_FIXED_LOAD_ACK) return 0;
        o[0] = m->u.load_ack.acked;
        o[1] = 0;
        wr16(o + 2, m->u.load_ack.status);
        wr32(o + 4, m->u.load_ack.next_offset);
        return VP_FIXED_LOAD_ACK;
    case VP_MSG_READBACK:
        if (cap < 1) return 0;
        o[0] = m->u.readback.slot;
        return 1;
    case VP_MSG_READBACK_REPLY:
        if (cap < VP_FIXED_READBACK_REPLY) return 0;
        o[0] = m->u.readback_reply.slot;
        o[1] = 0;
        wr16(o + 2, m->u.readback_reply.status);
        wr32(o + 4, m->u.readback_reply.size);
        memcpy(o + 8, m->u.readback_reply.sha256, 32);
        return VP_FIXED_READBACK_REPLY;
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------ chunking */
uint32_t vp_chunk_capacity(size_t max_frame, int secure, size_t fixed)
{
    size_t over = VP_HEADER_SIZE + VP_CRC_SIZE + fixed + (secure ? VP_TAG_SIZE : 0u);
    return max_frame > over ? (uint32_t)(max_frame - over) : 0u;
}

uint16_t vp_chunk_split(const uint8_t *t, uint32_t total, size_t max_frame, int secure,
                        size_t fixed, uint16_t index, vp_infer_t *c)
{
    uint32_t size = vp_chunk_capacity(max_frame, secure, fixed), count, off;
    if (size == 0u || total == 0u) return 0;
    count = total / size + (total % size != 0u);
    if (count > 0xFFFFu || index >= count) return 0;
    off = (uint32_t)index * size;
    c->chunk_index = index;
    c->chunk_count = (uint16_t)count;
    c->offset = off;
    c->total = total;
    c->data = t + off;
    c->len = (uint16_t)(total - off < size ? total - off : size);
    return (uint16_t)count;
}

/* ------------------------------------------------------------------ INFER reassembly */
void vp_reasm_init(vp_reasm_t *r, uint8_t *buf, uint32_t cap, uint32_t timeout_ms)
{
    memset(r, 0, sizeof *r);
    r->buf = buf;
    r->cap = cap;
    r->timeout_ms = timeout_ms;
}

static int start(vp_reasm_t *r, const vp_frame_t *f, const vp_infer_t *c, uint32_t now_ms)
{
    if (r->active) r->incomplete++;
    r->active = 0;
    if (c->total > r->cap || c->chunk_count > VP_REASM_MAX_CHUNKS) {
        r->too_big++;
        return -1;
    }
    r->active = 1;
    r->has_stride = r->has_last = 0;
    r->board_id = f->board_id;
    r->request_id = f->request_id;
    r->total = c->total;
    r->count = c->chunk_count;
    r->got_n = 0;
    r->started_ms = now_ms;
    memset(r->got, 0, sizeof r->got);
    return 0;
}

static int fits(vp_reasm_t *r, const vp_infer_t *c)
{
    uint32_t idx = c->chunk_index;
    if (idx + 1u == r->count) {
        if ((uint64_t)c->offset + c->len != r->total) return 0;
        if (r->has_stride && (uint64_t)c->offset != (uint64_t)idx * r->stride) return 0;
        r->has_last = 1;
        r->last_offset = c->offset;
        return 1;
    }
    if (!r->has_stride) {
        r->has_stride = 1;
        r->stride = c->len;
    }
    if (c->len != r->stride || (uint64_t)c->offset != (uint64_t)idx * r->stride) return 0;
    if ((uint64_t)r->stride * (r->count - 1u) >= r->total) return 0;
    if (r->has_last && (uint64_t)r->last_offset != (uint64_t)(r->count - 1u) * r->stride)
        return 0;
    return 1;
}

int vp_reasm_add(vp_reasm_t *r, const vp_frame_t *f, const vp_infer_t *c, uint32_t now_ms)
{
    uint16_t idx = c->chunk_index;
    vp_reasm_expire(r, now_ms);
    if (r->has_done && r->done_board == f->board_id && r->done_request == f->request_id) {
        r->duplicate++;
        return 0;
    }
    if (!r->active || r->board_id != f->board_id || r->request_id != f->request_id)
        if (start(r, f, c, now_ms) != 0) return 0;
    if (c->total != r->total || c->chunk_count != r->count) { /* also keeps idx < count */
        r->active = 0;
        r->inconsistent++;
        return 0;
    }
    if (r->got[idx / 8u] & (1u << (idx % 8u))) {
        r->duplicate++;
        return 0;
    }
    if (!fits(r, c)) {
        r->active = 0;
        r->inconsistent++;
        return 0;
    }
    memcpy(r->buf + c->offset, c->data, c->len);
    r->got[idx / 8u] |= (uint8_t)(1u << (idx % 8u));
    if (++r->got_n < r->count) return 0;
    r->active = 0;
    r->has_done = 1;
    r->done_board = r->board_id;
    r->done_request = r->request_id;
    r->completed++;
    return 1;
}

int vp_reasm_expire(vp_reasm_t *r, uint32_t now_ms)
{
    if (!r->active || (uint32_t)(now_ms - r->started_ms) <= r->timeout_ms) return 0;
    r->active = 0;
    r->incomplete++;
    return 1;
}
