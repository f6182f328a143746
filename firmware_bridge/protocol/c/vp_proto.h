/* vp_proto.h: C99 codec of the vp-edge wire protocol (spec: docs/protocol.md).
 *
 * No malloc, no recursion, no global state: every buffer and counter lives in a struct the
 * caller owns. Decoders never trust a length field over the frame boundary; they drop and count
 * (vp_auth_t.drops[VP_DROP_*]) and return 0.
 *
 * Board side (serial):
 *     static vp_auth_t auth;   static vp_stream_t rx;   vp_frame_t f;  vp_msg_t m;
 *     static const uint16_t me[1] = {MY_ID};
 *     vp_auth_init(&auth, KEY, KEY_LEN, VP_ROLE_BOARD, me, 1);
 *     vp_stream_init(&rx);
 *     for each byte b: if (vp_stream_feed(&rx, &auth, b, &f) && vp_msg_unpack(f.type,
 *         f.payload, f.payload_len, &m) == 0) { ... handle m ... }
 * Sending: n = vp_msg_pack(&m, payload_buf, cap); vp_frame_encode(...); vp_serial_encode(...).
 * The counter is (boot epoch << 32) | sequence: persist the epoch, bump it once per boot.
 */
#ifndef VP_PROTO_H
#define VP_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "vp_proto_defs.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef VP_MAX_PEERS
#define VP_MAX_PEERS 8u /* senders whose counters a receiver tracks */
#endif
#ifndef VP_REASM_MAX_CHUNKS
#define VP_REASM_MAX_CHUNKS 256u
#endif

/* Worst-case COBS size of n bytes, without and with the 0x00 delimiter. */
#define VP_COBS_MAX(n) ((n) + ((n) + 253u) / 254u + ((n) == 0u ? 1u : 0u))
#define VP_SERIAL_MAX (VP_COBS_MAX(VP_MAX_FRAME) + 1u)

enum { VP_ROLE_GATEWAY = 0, VP_ROLE_BOARD = 1 };

/* ---- CRC-32C (Castagnoli): vp_crc32c(0, p, n) is the CRC of p[0..n); chain by passing it. */
uint32_t vp_crc32c(uint32_t crc, const uint8_t *p, size_t n);

/* ---- COBS. encode: returns encoded length (no delimiter), 0 if cap is too small.
 * decode: returns 0 and *out_len on success, -1 on a malformed block; out may equal in. */
size_t vp_cobs_encode(const uint8_t *in, size_t n, uint8_t *out, size_t cap);
int vp_cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *out_len);

/* ---- SHA-256 and HMAC-SHA256 (FIPS 180-4, RFC 2104). */
typedef struct {
    uint32_t h[8];
    uint64_t bits;
    uint8_t buf[64];
    uint32_t n;
} vp_sha256_t;
void vp_sha256_init(vp_sha256_t *s);
void vp_sha256_update(vp_sha256_t *s, const uint8_t *p, size_t n);
void vp_sha256_final(vp_sha256_t *s, uint8_t out[32]);
void vp_sha256(const uint8_t *p, size_t n, uint8_t out[32]);

typedef struct {
    vp_sha256_t inner;
    uint8_t okey[64];
} vp_hmac_t;
void vp_hmac_init(vp_hmac_t *h, const uint8_t *key, size_t key_len);
void vp_hmac_update(vp_hmac_t *h, const uint8_t *p, size_t n);
void vp_hmac_final(vp_hmac_t *h, uint8_t out[32]);
void vp_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *p, size_t n,
                    uint8_t out[32]);

/* ---- Per-board keys (docs/protocol.md section 4): HKDF-SHA256 (RFC 5869) of the deployment's
 * master key, salt "vp-edge board key v1", info = board id as u16 little-endian, 32 bytes.
 * Provisioning tools derive with it; a board stores only its own result. */
#define VP_BOARD_KEY_SALT "vp-edge board key v1"
void vp_board_key(const uint8_t *master, size_t master_len, uint16_t board_id, uint8_t out[32]);

/* ---- Frames. */
typedef struct {
    uint8_t type;
    uint8_t flags;
    uint16_t board_id;
    uint32_t request_id;
    uint64_t counter;
    const uint8_t *payload; /* points into the caller's (or the stream's) buffer */
    uint16_t payload_len;
} vp_frame_t;

/* Anti-replay window per sender (docs/protocol.md §4): the highest counter accepted and a bitmap of
 * the VP_REPLAY_WINDOW counters ending at it (bit i: highest - i was accepted). */
#define VP_REPLAY_WINDOW 64u
typedef struct {
    uint16_t board_id;
    uint8_t used;
    uint64_t highest;   /* highest accepted counter from this sender */
    uint64_t seen;      /* bit i set: counter highest - i accepted */
    uint32_t last_used; /* board role: accept tick of this sender (least recently used evicted) */
} vp_peer_t;

typedef struct {
    const uint8_t *key; /* NULL: insecure receiver (accepts INSECURE frames only) */
    size_t key_len;
    uint8_t role;           /* VP_ROLE_GATEWAY accepts board frames, VP_ROLE_BOARD gateway frames */
    uint8_t allow_insecure; /* secure receiver that also accepts INSECURE frames (testing only) */
    const uint16_t *boards; /* allow-list of board ids; NULL: any */
    uint16_t n_boards;
    vp_peer_t peers[VP_MAX_PEERS]; /* gateway role: one per board; board role: one per epoch */
    uint32_t accepted;
    uint32_t drops[VP_DROP_COUNT];
    /* Board role (docs/protocol.md §4): gateway-side senders are told apart by their epoch. */
    uint8_t have_epoch;  /* max_epoch is set */
    uint8_t stale_probe; /* a stale PROBE arrived: answer ERROR(STALE_COUNTER) to stale_rid */
    uint32_t max_epoch;  /* newest sender epoch accepted since boot */
    uint32_t challenge;  /* nonce a stale sender must PROBE with (0: none) */
    uint32_t stale_rid;
    uint32_t tick;
} vp_auth_t;

/* Board role: arm and return the STALE_COUNTER nonce for the board's latest counter. */
uint32_t vp_auth_challenge(vp_auth_t *a, uint64_t board_counter);

void vp_auth_init(vp_auth_t *a, const uint8_t *key, size_t key_len, uint8_t role,
                  const uint16_t *boards, uint16_t n_boards);

/* Encode header + payload (+ tag unless key is NULL) + CRC into out. payload may already sit at
 * out + VP_HEADER_SIZE. Returns the frame size, 0 if it does not fit cap or VP_MAX_FRAME. */
size_t vp_frame_encode(uint8_t *out, size_t cap, uint8_t type, int from_gateway,
                       uint16_t board_id, uint32_t request_id, uint64_t counter,
                       const uint8_t *payload, size_t payload_len, const uint8_t *key,
                       size_t key_len);
/* COBS-encode a frame and append 0x00. Returns bytes written, 0 if cap is too small. */
size_t vp_serial_encode(const uint8_t *frame, size_t n, uint8_t *out, size_t cap);

/* Check one unframed frame (a UDP datagram). 1: accepted, *out filled (payload points into buf);
 * 0: dropped, a[drops] counted. Payloads are validated with vp_msg_unpack before acceptance. */
int vp_frame_check(vp_auth_t *a, const uint8_t *buf, size_t n, vp_frame_t *out);

/* ---- Serial stream decoder. out->payload is valid until the next vp_stream_feed call. */
typedef struct {
    uint8_t buf[VP_COBS_MAX(VP_MAX_FRAME)];
    size_t len;
    uint8_t overflow;
} vp_stream_t;
void vp_stream_init(vp_stream_t *s);
int vp_stream_feed(vp_stream_t *s, vp_auth_t *a, uint8_t byte, vp_frame_t *out);

/* ---- Messages (payloads). */
typedef struct {
    uint8_t board_kind, k;
    uint16_t num_classes;
    uint32_t input_bytes;
    uint16_t max_frame;
    int8_t score_zero_point;
    float score_scale;
    uint8_t model_sha256[32];
    uint8_t name_len;
    char variant[VP_MAX_NAME + 1]; /* NUL-terminated */
} vp_hello_t;
typedef struct { uint8_t want; } vp_probe_t;
typedef struct { uint32_t uptime_s, rx_ok, rx_dropped, tx, inferences, errors; } vp_heartbeat_t;
typedef struct {
    uint16_t chunk_index, chunk_count;
    uint32_t offset, total;
    const uint8_t *data;
    uint16_t len;
} vp_infer_t;
/* TENSOR (board -> gw) and INFER_STAGE (gw -> board): INFER's chunk after a 4-byte head. */
typedef struct { uint32_t compute_us; vp_infer_t chunk; } vp_tensor_t;
typedef struct { uint8_t stage; vp_infer_t chunk; } vp_infer_stage_t;
typedef struct { uint16_t cls; int8_t score; } vp_pair_t;
typedef struct {
    uint32_t compute_us;
    uint8_t k;
    vp_pair_t pairs[VP_MAX_K];
} vp_result_t;
typedef struct { uint16_t status; uint32_t detail; } vp_error_t;
typedef struct {
    uint32_t size;
    uint8_t slot;
    uint8_t sha256[32];
    uint8_t hmac_sha256[32];
} vp_load_begin_t;
typedef struct {
    uint32_t offset, crc32c;
    const uint8_t *data;
    uint16_t len;
} vp_load_chunk_t;
typedef struct { uint8_t activate; } vp_load_commit_t;
typedef struct { uint8_t acked; uint16_t status; uint32_t next_offset; } vp_load_ack_t;
typedef struct { uint8_t slot; } vp_readback_t;
typedef struct {
    uint8_t slot;
    uint16_t status;
    uint32_t size;
    uint8_t sha256[32];
} vp_readback_reply_t;

typedef struct {
    uint8_t type; /* vp_msg_type_t */
    union {
        vp_hello_t hello;
        vp_probe_t probe;
        vp_heartbeat_t heartbeat;
        vp_infer_t infer;
        vp_result_t result;
        vp_error_t error;
        vp_tensor_t tensor;
        vp_infer_stage_t infer_stage;
        vp_load_begin_t load_begin;
        vp_load_chunk_t load_chunk;
        vp_load_commit_t load_commit;
        vp_load_ack_t load_ack;
        vp_readback_t readback;
        vp_readback_reply_t readback_reply;
    } u;
} vp_msg_t;

/* 0 and *m filled (data pointers into p), or -1 if the payload is malformed for type. */
int vp_msg_unpack(uint8_t type, const uint8_t *p, size_t n, vp_msg_t *m);
/* Payload bytes written, or 0 if a field is out of range or cap is too small. */
size_t vp_msg_pack(const vp_msg_t *m, uint8_t *out, size_t cap);
/* Convenience: pack m and frame it in one go (0 on error). */
size_t vp_msg_frame(const vp_msg_t *m, uint8_t *out, size_t cap, uint16_t board_id,
                    uint32_t request_id, uint64_t counter, const uint8_t *key, size_t key_len);

/* ---- Chunking (INFER, TENSOR, INFER_STAGE: one layout, one rule; chunk.py split_chunks).
 * Tensor bytes one chunk carries in a frame of at most max_frame bytes whose message has `fixed`
 * payload bytes before the data (VP_FIXED_INFER 12; VP_FIXED_TENSOR, VP_FIXED_INFER_STAGE 16),
 * with a tag when secure; 0 if there is no room. */
uint32_t vp_chunk_capacity(size_t max_frame, int secure, size_t fixed);
/* Chunk `index` of tensor t[0..total) at that capacity: fills *c (c->data points into t) and
 * returns chunk_count; 0 if the tensor cannot be sent (empty, no room, more than 65535 chunks)
 * or index >= chunk_count. Send chunks 0..count-1, each its own frame. */
uint16_t vp_chunk_split(const uint8_t *t, uint32_t total, size_t max_frame, int secure,
                        size_t fixed, uint16_t index, vp_infer_t *c);

/* ---- INFER reassembly on a board: one request at a time into a caller buffer. */
typedef struct {
    uint8_t *buf;
    uint32_t cap, timeout_ms;
    uint8_t active, has_stride, has_last, has_done;
    uint16_t board_id, count, got_n, done_board;
    uint32_t request_id, total, stride, last_offset, started_ms, done_request;
    uint8_t got[(VP_REASM_MAX_CHUNKS + 7u) / 8u];
    uint32_t completed, incomplete, inconsistent, duplicate, too_big;
} vp_reasm_t;
void vp_reasm_init(vp_reasm_t *r, uint8_t *buf, uint32_t cap, uint32_t timeout_ms);
/* 1: the tensor is complete in buf[0..total); 0: stored, duplicate or dropped (counted). A chunk
 * of another request replaces an unfinished one (counted incomplete). */
int vp_reasm_add(vp_reasm_t *r, const vp_frame_t *f, const vp_infer_t *c, uint32_t now_ms);
/* 1 if the pending request timed out and was dropped (its id stays in r->request_id). */
int vp_reasm_expire(vp_reasm_t *r, uint32_t now_ms);

#ifdef __cplusplus
}
#endif
#endif /* VP_PROTO_H */
