/* vp_proto.c: C99 codec of the vp-edge wire protocol. See vp_proto.h and docs/protocol.md. */
#include "vp_proto.h"

#include <string.h>

#include "vp_le.h"

/* ------------------------------------------------------------------ CRC-32C */
uint32_t vp_crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
    size_t i;
    int b;
    crc = ~crc;
    for (i = 0; i < n; i++) {
        crc ^= p[i];
        for (b = 0; b < 8; b++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* ------------------------------------------------------------------ COBS */
size_t vp_cobs_encode(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    size_t o = 1, code_at = 0, i;
    uint8_t code = 1;
    if (cap < 1) return 0;
    for (i = 0; i < n; i++) {
        if (in[i] != 0) {
            if (o >= cap) return 0;
            out[o++] = in[i];
            code++;
        }
        if (in[i] == 0 || (code == 0xFF && i + 1 < n)) {
            out[code_at] = code;
            if (o >= cap) return 0;
            code_at = o++;
            code = 1;
        }
    }
    out[code_at] = code;
    return o;
}

int vp_cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t i = 0, o = 0, j;
    while (i < n) {
        uint8_t code = in[i];
        if (code == 0 || (size_t)code > n - i) return -1;
        for (j = 1; j < code; j++) {
            uint8_t c = in[i + j];
            if (c == 0 || o >= cap) return -1;
            out[o++] = c; /* o <= i + j - 1 < i + j: safe in place */
        }
        i += code;
        if (code != 0xFF && i < n) {
            if (o >= cap) return -1;
            out[o++] = 0;
        }
    }
    *out_len = o;
    return 0;
}

/* ------------------------------------------------------------------ SHA-256 */
static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha_block(vp_sha256_t *s, const uint8_t *b)
{
    uint32_t w[16], v[8], t1, t2;
    int i;
    for (i = 0; i < 16; i++)
        w[i] = ((uint32_t)b[4 * i] << 24) | ((uint32_t)b[4 * i + 1] << 16) |
               ((uint32_t)b[4 * i + 2] << 8) | b[4 * i + 3];
    memcpy(v, s->h, sizeof v);
    for (i = 0; i < 64; i++) {
        if (i >= 16) {
            uint32_t w15 = w[(i + 1) & 15], w2 = w[(i + 14) & 15];
            w[i & 15] += (ROR(w15, 7) ^ ROR(w15, 18) ^ (w15 >> 3)) + w[(i + 9) & 15] +
                         (ROR(w2, 17) ^ ROR(w2, 19) ^ (w2 >> 10));
        }
        t1 = v[7] + (ROR(v[4], 6) ^ ROR(v[4], 11) ^ ROR(v[4], 25)) +
             ((v[4] & v[5]) ^ (~v[4] & v[6])) + K256[i] + w[i & 15];
        t2 = (ROR(v[0], 2) ^ ROR(v[0], 13) ^ ROR(v[0], 22)) +
             ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
        memmove(v + 1, v, 7 * sizeof v[0]);
        v[4] += t1;
        v[0] = t1 + t2;
    }
    for (i = 0; i < 8; i++) s->h[i] += v[i];
}

void vp_sha256_init(vp_sha256_t *s)
{
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, h0, sizeof h0);
    s->bits = 0;
    s->n = 0;
}

void vp_sha256_update(vp_sha256_t *s, const uint8_t *p, size_t n)
{
    s->bits += (uint64_t)n * 8u;
    while (n > 0) {
        size_t take = 64u - s->n;
        if (take > n) take = n;
        memcpy(s->buf + s->n, p, take);
        s->n += (uint32_t)take;
        p += take;
        n -= take;
        if (s->n == 64u) {
            sha_block(s, s->buf);
            s->n = 0;
        }
    }
}

void vp_sha256_final(vp_sha256_t *s, uint8_t out[32])
{
    uint64_t bits = s->bits;
    int i;
    s->buf[s->n++] = 0x80;
    if (s->n > 56u) {
        memset(s->buf + s->n, 0, 64u - s->n);
        sha_block(s, s->buf);
        s->n = 0;
    }
    memset(s->buf + s->n, 0, 56u - s->n);
    for (i = 0; i < 8; i++) s->buf[63 - i] = (uint8_t)(bits >> (8 * i));
    sha_block(s, s->buf);
    for (i = 0; i < 32; i++) out[i] = (uint8_t)(s->h[i / 4] >> (24 - 8 * (i % 4)));
}

void vp_sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
    vp_sha256_t s;
    vp_sha256_init(&s);
    vp_sha256_update(&s, p, n);
    vp_sha256_final(&s, out);
}

void vp_hmac_init(vp_hmac_t *h, const uint8_t *key, size_t key_len)
{
    uint8_t k[64];
    int i;
    memset(k, 0, sizeof k);
    if (key_len > 64u)
        vp_sha256(key, key_len, k);
    else if (key_len > 0)
        memcpy(k, key, key_len);
    for (i = 0; i < 64; i++) {
        h->okey[i] = (uint8_t)(k[i] ^ 0x5c);
        k[i] ^= 0x36;
    }
    vp_sha256_init(&h->inner);
    vp_sha256_update(&h->inner, k, 64);
}

void vp_hmac_update(vp_hmac_t *h, const uint8_t *p, size_t n) { vp_sha256_update(&h->inner, p, n); }

void vp_hmac_final(vp_hmac_t *h, uint8_t out[32])
{
    uint8_t d[32];
    vp_sha256_t o;
    vp_sha256_final(&h->inner, d);
    vp_sha256_init(&o);
    vp_sha256_update(&o, h->okey, 64);
    vp_sha256_update(&o, d, 32);
    vp_sha256_final(&o, out);
}

void vp_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *p, size_t n,
                    uint8_t out[32])
{
    vp_hmac_t h;
    vp_hmac_init(&h, key, key_len);
    vp_hmac_update(&h, p, n);
    vp_hmac_final(&h, out);
}

void vp_board_key(const uint8_t *master, size_t master_len, uint16_t board_id, uint8_t out[32])
{
    static const uint8_t salt[] = VP_BOARD_KEY_SALT;
    uint8_t prk[32];
    uint8_t info[3];
    vp_hmac_sha256(salt, sizeof salt - 1u, master, master_len, prk); /* HKDF-Extract */
    info[0] = (uint8_t)(board_id & 0xFFu);
    info[1] = (uint8_t)(board_id >> 8);
    info[2] = 0x01; /* HKDF-Expand: T(1) = HMAC(PRK, info || 0x01), L = 32 */
    vp_hmac_sha256(prk, sizeof prk, info, sizeof info, out);
}

/* ------------------------------------------------------------------ frames */
void vp_auth_init(vp_auth_t *a, const uint8_t *key, size_t key_len, uint8_t role,
                  const uint16_t *boards, uint16_t n_boards)
{
    memset(a, 0, sizeof *a);
    a->key = key;
    a->key_len = key_len;
    a->role = role;
    a->boards = boards;
    a->n_boards = n_boards;
}

size_t vp_frame_encode(uint8_t *out, size_t cap, uint8_t type, int from_gateway,
                       uint16_t board_id, uint32_t request_id, uint64_t counter,
                       const uint8_t *payload, size_t payload_len, const uint8_t *key,
                       size_t key_len)
{
    size_t tag_len = key ? VP_TAG_SIZE : 0u;
    size_t n = VP_HEADER_SIZE + payload_len + tag_len + VP_CRC_SIZE;
    uint8_t mac[32];
    if (payload_len > 0xFFFFu || n > cap || n > VP_MAX_FRAME) return 0;
    if (payload_len > 0 && payload != out + VP_HEADER_SIZE)
        memmove(out + VP_HEADER_SIZE, payload, payload_len);
    out[0] = VP_MAGIC;
    out[1] = VP_VERSION;
    out[2] = type;
    out[3] = (uint8_t)((from_gateway ? VP_FLAG_FROM_GATEWAY : 0) | (key ? 0 : VP_FLAG_INSECURE));
    wr16(out + 4, board_id);
    wr32(out + 6, request_id);
    wr16(out + 10, (uint16_t)payload_len);
    wr64(out + 12, counter);
    if (key) {
        vp_hmac_sha256(key, key_len, out, VP_HEADER_SIZE + payload_len, mac);
        memcpy(out + VP_HEADER_SIZE + payload_len, mac, VP_TAG_SIZE);
    }
    wr32(out + n - VP_CRC_SIZE, vp_crc32c(0, out, n - VP_CRC_SIZE));
    return n;
}

size_t vp_serial_encode(const uint8_t *frame, size_t n, uint8_t *out, size_t cap)
{
    size_t m = vp_cobs_encode(frame, n, out, cap);
    if (m == 0 || m >= cap) return 0;
    out[m] = 0;
    return m + 1;
}

static int known_type(uint8_t t)
{
    switch (t) {
    case VP_MSG_HELLO: case VP_MSG_PROBE: case VP_MSG_HEARTBEAT: case VP_MSG_INFER:
    case VP_MSG_RESULT: case VP_MSG_ERROR: case VP_MSG_TENSOR: case VP_MSG_INFER_STAGE:
    case VP_MSG_LOAD_BEGIN: case VP_MSG_LOAD_CHUNK:
    case VP_MSG_LOAD_COMMIT: case VP_MSG_LOAD_ACK: case VP_MSG_READBACK:
    case VP_MSG_READBACK_REPLY:
        return 1;
    default:
        return 0;
    }
}

static int tag_equal(const uint8_t *a, const uint8_t *b)
{
    uint8_t d = 0;
    unsigned i;
    for (i = 0; i < VP_TAG_SIZE; i++) d |= (uint8_t)(a[i] ^ b[i]); /* constant time */
    return d == 0;
}

/* Gateway role: the board's window (or a free slot; NULL when the table is full). Board role:
 * the window of this sender epoch, or NULL with *fresh_slot set to the slot a new one would take
 * (a free one, else the least recently used). */
static vp_peer_t *find_peer(vp_auth_t *a, uint16_t board_id, uint64_t ctr, vp_peer_t **fresh_slot)
{
    unsigned i;
    vp_peer_t *free_slot = NULL, *lru = NULL;
    int by_epoch = a->role == VP_ROLE_BOARD;
    for (i = 0; i < VP_MAX_PEERS; i++) {
        vp_peer_t *p = &a->peers[i];
        if (p->used && p->board_id == board_id && (!by_epoch || (p->highest >> 32) == (ctr >> 32)))
            return p;
        if (!p->used && !free_slot) free_slot = p;
        if (p->used && (!lru || p->last_used < lru->last_used)) lru = p;
    }
    *fresh_slot = free_slot ? free_slot : (by_epoch ? lru : NULL);
    return NULL;
}

/* Board role, a sender epoch without a window: a sender newer than any so far, or one answering
 * this board's challenge, may start one; any other is stale (a PROBE is remembered). */
static int admit(vp_auth_t *a, uint32_t epoch, uint8_t type, uint32_t rid)
{
    if (!a->have_epoch || epoch > a->max_epoch) return 1;
    if (type == VP_MSG_PROBE && a->challenge && rid == a->challenge) return 1;
    if (type == VP_MSG_PROBE) {
        a->stale_probe = 1;
        a->stale_rid = rid;
    }
    return 0;
}

uint32_t vp_auth_challenge(vp_auth_t *a, uint64_t board_counter)
{
    static const char tag[] = "vp-edge challenge";
    uint8_t msg[sizeof tag - 1 + 8], digest[32];
    unsigned i;
    memcpy(msg, tag, sizeof tag - 1);
    for (i = 0; i < 8; i++) msg[sizeof tag - 1 + i] = (uint8_t)(board_counter >> (8 * i));
    vp_sha256(msg, sizeof msg, digest);
    a->challenge = rd32(digest);
    if (!a->challenge) a->challenge = 1;
    return a->challenge;
}

/* 1 if ctr is above the highest counter accepted from peer, or within the window below it and
 * not seen yet; 0 for a duplicate or a counter older than the window (a replay). */
static int window_fresh(const vp_peer_t *p, uint64_t ctr)
{
    uint64_t behind;
    if (!p->used || ctr > p->highest) return 1;
    behind = p->highest - ctr;
    return behind < VP_REPLAY_WINDOW && !((p->seen >> behind) & 1u);
}

/* Record ctr as accepted (only after every check on its frame passed). */
static void window_accept(vp_peer_t *p, uint16_t board_id, uint64_t ctr)
{
    uint64_t shift;
    if (!p->used || ctr > p->highest) {
        shift = p->used ? ctr - p->highest : VP_REPLAY_WINDOW;
        p->seen = shift < VP_REPLAY_WINDOW ? (p->seen << shift) | 1u : 1u;
        p->highest = ctr;
    } else {
        p->seen |= (uint64_t)1u << (p->highest - ctr);
    }
    p->used = 1;
    p->board_id = board_id;
}

static int check(vp_auth_t *a, const uint8_t *buf, size_t n, vp_frame_t *out)
{
    uint8_t flags, type, mac[32];
    uint16_t plen, board;
    uint64_t ctr;
    size_t tag_len;
    int insecure, from_gw;
    unsigned i;
    uint32_t rid;
    vp_peer_t *peer, *fresh = NULL;
    vp_msg_t m;
    if (n < VP_HEADER_SIZE + VP_CRC_SIZE) return VP_DROP_TRUNCATED;
    if (vp_crc32c(0, buf, n - VP_CRC_SIZE) != rd32(buf + n - VP_CRC_SIZE)) return VP_DROP_BAD_CRC;
    if (buf[0] != VP_MAGIC) return VP_DROP_BAD_MAGIC;
    if (buf[1] != VP_VERSION) return VP_DROP_BAD_VERSION;
    type = buf[2];
    flags = buf[3];
    if (flags & (uint8_t)~(VP_FLAG_INSECURE | VP_FLAG_FROM_GATEWAY)) return VP_DROP_BAD_FLAGS;
    if (!known_type(type)) return VP_DROP_BAD_TYPE;
    insecure = (flags & VP_FLAG_INSECURE) != 0;
    tag_len = insecure ? 0u : VP_TAG_SIZE;
    plen = rd16(buf + 10);
    if (n != VP_HEADER_SIZE + (size_t)plen + tag_len + VP_CRC_SIZE) return VP_DROP_TRUNCATED;
    if (insecure && a->key && !a->allow_insecure) return VP_DROP_INSECURE;
    if (!insecure) {
        if (!a->key) return VP_DROP_BAD_TAG;
        vp_hmac_sha256(a->key, a->key_len, buf, VP_HEADER_SIZE + (size_t)plen, mac);
        if (!tag_equal(mac, buf + VP_HEADER_SIZE + plen)) return VP_DROP_BAD_TAG;
    }
    from_gw = (flags & VP_FLAG_FROM_GATEWAY) != 0;
    if (from_gw != (a->role == VP_ROLE_BOARD) || from_gw != (VP_TYPE_FROM_GATEWAY(type) ? 1 : 0))
        return VP_DROP_WRONG_DIRECTION;
    board = rd16(buf + 4);
    if (a->boards) {
        for (i = 0; i < a->n_boards && a->boards[i] != board; i++) {}
        if (i == a->n_boards) return VP_DROP_UNKNOWN_BOARD;
    }
    ctr = rd64(buf + 12);
    rid = rd32(buf + 6);
    peer = find_peer(a, board, ctr, &fresh);
    if (!peer) {
        if (!fresh) return VP_DROP_UNKNOWN_BOARD; /* more boards than VP_MAX_PEERS */
        if (a->role == VP_ROLE_BOARD && !admit(a, (uint32_t)(ctr >> 32), type, rid))
            return VP_DROP_STALE;
    }
    if (peer && !window_fresh(peer, ctr)) return VP_DROP_REPLAY;
    if (vp_msg_unpack(type, buf + VP_HEADER_SIZE, plen, &m) != 0) return VP_DROP_BAD_PAYLOAD;
    if (!peer) {
        peer = fresh;
        peer->used = 0; /* a new sender: a free slot, or the least recently used one reused */
        if (a->role == VP_ROLE_BOARD) {
            if (a->challenge && rid == a->challenge) a->challenge = 0;
            if (!a->have_epoch || (uint32_t)(ctr >> 32) > a->max_epoch)
                a->max_epoch = (uint32_t)(ctr >> 32);
            a->have_epoch = 1;
        }
    }
    window_accept(peer, board, ctr);
    peer->last_used = ++a->tick;
    out->type = type;
    out->flags = flags;
    out->board_id = board;
    out->request_id = rid;
    out->counter = ctr;
    out->payload = buf + VP_HEADER_SIZE;
    out->payload_len = plen;
    return -1;
}

int vp_frame_check(vp_auth_t *a, const uint8_t *buf, size_t n, vp_frame_t *out)
{
    int r;
    if (n > VP_MAX_FRAME) {
        a->drops[VP_DROP_TOO_LONG]++;
        return 0;
    }
    r = check(a, buf, n, out);
    if (r >= 0) {
        a->drops[r]++;
        return 0;
    }
    a->accepted++;
    return 1;
}

void vp_stream_init(vp_stream_t *s)
{
    s->len = 0;
    s->overflow = 0;
}

int vp_stream_feed(vp_stream_t *s, vp_auth_t *a, uint8_t byte, vp_frame_t *out)
{
    size_t n;
    if (byte != 0) {
        if (s->len < sizeof s->buf)
            s->buf[s->len++] = byte;
        else
            s->overflow = 1;
        return 0;
    }
    if (s->overflow) {
        a->drops[VP_DROP_TOO_LONG]++;
        vp_stream_init(s);
        return 0;
    }
    n = s->len;
    s->len = 0;
    if (n == 0) return 0; /* idle filler between frames */
    if (vp_cobs_decode(s->buf, n, s->buf, sizeof s->buf, &n) != 0) {
        a->drops[VP_DROP_BAD_COBS]++;
        return 0;
    }
    return vp_frame_check(a, s->buf, n, out);
}

/* ------------------------------------------------------------------ message + frame */
size_t vp_msg_frame(const vp_msg_t *m, uint8_t *out, size_t cap, uint16_t board_id,
                    uint32_t request_id, uint64_t counter, const uint8_t *key, size_t key_len)
{
    size_t n;
    if (cap < VP_HEADER_SIZE) return 0;
    n = vp_msg_pack(m, out + VP_HEADER_SIZE, cap - VP_HEADER_SIZE);
    if (n == 0) return 0;
    return vp_frame_encode(out, cap, m->type, VP_TYPE_FROM_GATEWAY(m->type), board_id, request_id,
                           counter, out + VP_HEADER_SIZE, n, key, key_len);
}
