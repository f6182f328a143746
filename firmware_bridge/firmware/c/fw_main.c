/* fw_main.c: the portable board main loop (spec: docs/protocol.md, design: docs/firmware.md).
 *
 * Frames arrive on the UART (COBS + 0x00); PROBE, INFER, READBACK and the LOAD session are
 * answered (INFER with RESULT, the top FW_K pairs, or with FW_K = 0 with TENSOR chunks of the
 * whole output; INFER_STAGE and other types with ERROR UNSUPPORTED); HELLO goes out at boot, on PROBE and after a new model is activated; HEARTBEAT every
 * FW_HEARTBEAT_MS. A LOAD session writes only the inactive slot; the running model changes only
 * after the slot's SHA-256, its HMAC-SHA256 under the deployment key and the engine self-test on
 * the artefact's golden input all passed, by one metadata-record write (fw_store.c).
 */
#include <string.h>

#include "fw.h"
#include "vp_proto.h"

static vp_auth_t auth;
static vp_stream_t rx;
static vp_reasm_t reasm;
static fw_prov_t prov;
static fw_meta_t meta;
static fw_model_t model;
static int have_model;
static uint64_t arena_words[FW_ARENA_SIZE / 8u]; /* engine scratch, 8-byte aligned */
static uint8_t input[FW_INPUT_MAX];
static int8_t output[FW_OUTPUT_MAX];
static uint8_t txf[VP_MAX_FRAME];
static uint8_t txs[VP_SERIAL_MAX];
static uint16_t me[1];
static uint32_t seq, n_tx, n_infer, n_err, boot_ms;

static struct {
    int on;
    uint32_t id, size, next;
    uint8_t slot;
    uint8_t sha[32], tag[32];
} load;

#define ARENA ((uint8_t *)arena_words)

static const uint8_t *key_ptr(void) { return prov.key_len ? prov.key : NULL; }

static void send(vp_msg_t *m, uint32_t rid)
{
    uint64_t ctr = (uint64_t)meta.epoch << 32 | ++seq;
    size_t n = vp_msg_frame(m, txf, sizeof txf, prov.board_id, rid, ctr, key_ptr(), prov.key_len);
    size_t s = n ? vp_serial_encode(txf, n, txs, sizeof txs) : 0;
    if (s == 0) return;
    tgt_uart_write(txs, s);
    n_tx++;
    if (m->type == VP_MSG_ERROR) n_err++;
}

static void send_error(uint32_t rid, uint16_t status, uint32_t detail)
{
    vp_msg_t m;
    m.type = VP_MSG_ERROR;
    m.u.error.status = status;
    m.u.error.detail = detail;
    send(&m, rid);
}

static void send_ack(uint32_t rid, uint8_t acked, uint16_t status, uint32_t next)
{
    vp_msg_t m;
    m.type = VP_MSG_LOAD_ACK;
    m.u.load_ack.acked = acked;
    m.u.load_ack.status = status;
    m.u.load_ack.next_offset = next;
    send(&m, rid);
}

static uint32_t model_k(void)
{
    return have_model && model.out_size < FW_K ? model.out_size : FW_K;
}

static void send_hello(uint32_t rid)
{
    static const char hex[] = "0123456789abcdef";
    vp_msg_t m;
    vp_hello_t *h = &m.u.hello;
    uint32_t i;
    memset(&m, 0, sizeof m);
    m.type = VP_MSG_HELLO;
    h->board_kind = VP_BOARD_MCU;
    h->k = (uint8_t)model_k();
    h->max_frame = VP_MAX_FRAME;
    memcpy(h->variant, "none", 5);
    if (have_model) {
        h->num_classes = (uint16_t)model.out_size;
        h->input_bytes = model.in_size;
        h->score_zero_point = (int8_t)model.out_zp;
        memcpy(&h->score_scale, &model.out_scale_bits, 4);
        memcpy(h->model_sha256, meta.sha[meta.active], 32);
        memcpy(h->variant, "vpw-", 4); /* the .vpw carries no name: its hash prefix stands in */
        for (i = 0; i < 6; i++) {
            h->variant[4 + 2 * i] = hex[h->model_sha256[i] >> 4];
            h->variant[5 + 2 * i] = hex[h->model_sha256[i] & 15];
        }
        h->variant[16] = 0;
    }
    h->name_len = (uint8_t)strlen(h->variant);
    send(&m, rid);
}

static void send_heartbeat(uint32_t rid)
{
    vp_msg_t m;
    uint32_t i, dropped = 0;
    for (i = 0; i < VP_DROP_COUNT; i++) dropped += auth.drops[i];
    m.type = VP_MSG_HEARTBEAT;
    m.u.heartbeat.uptime_s = (tgt_millis() - boot_ms) / 1000u;
    m.u.heartbeat.rx_ok = auth.accepted;
    m.u.heartbeat.rx_dropped = dropped;
    m.u.heartbeat.tx = n_tx;
    m.u.heartbeat.inferences = n_infer;
    m.u.heartbeat.errors = n_err;
    send(&m, rid);
}

/* 0 if slot s holds a verified model that fits this board's buffers; fills *out. */
static int open_slot(uint8_t s, uint32_t size, fw_model_t *out)
{
    if (s > 1u || size == 0u || size > FW_SLOT_SIZE) return -1;
    if (fw_model_open(out, tgt_storage() + FW_SLOT_OFF(s), size) != 0) return -1;
    if (out->arena_size > FW_ARENA_SIZE || out->in_size > FW_INPUT_MAX ||
        out->out_size > FW_OUTPUT_MAX || out->out_size == 0u)
        return -2;
    return 0;
}

static int slot_intact(uint8_t s)
{
    uint8_t sha[32];
    if (s > 1u || meta.size[s] == 0u) return 0;
    fw_slot_sha(s, meta.size[s], sha);
    return memcmp(sha, meta.sha[s], 32) == 0 && open_slot(s, meta.size[s], &model) == 0;
}

/* Boot: the recorded active slot if its bytes still hash right, else the other verified one. */
static void select_model(void)
{
    uint8_t s;
    have_model = 0;
    if (meta.active < 2u && slot_intact(meta.active)) {
        have_model = 1;
        return;
    }
    for (s = 0; s < 2u; s++) {
        if (s != meta.active && slot_intact(s)) {
            meta.active = s;
            have_model = 1;
            return;
        }
    }
    meta.active = FW_NO_SLOT;
}

static void topk(vp_result_t *r, uint32_t n, uint32_t k)
{
    uint32_t j, i;
    int prev_s = 0, best;
    uint32_t prev_i = 0;
    for (j = 0; j < k; j++) {
        best = -1;
        for (i = 0; i < n; i++) {
            int s = output[i];
            /* eligible: ranks after the previous pick in (score desc, index asc) order */
            if (j > 0 && !(s < prev_s || (s == prev_s && i > prev_i))) continue;
            if (best < 0 || s > output[best]) best = (int)i;
        }
        r->pairs[j].cls = (uint16_t)best;
        r->pairs[j].score = output[best];
        prev_s = output[best];
        prev_i = (uint32_t)best;
    }
    r->k = (uint8_t)k;
}

/* k = 0 (docs/protocol.md §3 TENSOR): the whole int8 output, straight from the engine's output
 * buffer, one frame per chunk of this board's max frame. */
static void send_tensor(uint32_t rid, uint32_t compute_us)
{
    vp_msg_t m;
    uint16_t i, count = 1;
    m.type = VP_MSG_TENSOR;
    m.u.tensor.compute_us = compute_us;
    for (i = 0; i < count; i++) {
        count = vp_chunk_split((const uint8_t *)output, model.out_size, VP_MAX_FRAME,
                               key_ptr() != NULL, VP_FIXED_TENSOR, i, &m.u.tensor.chunk);
        if (count == 0u) { /* an output this frame size cannot carry */
            send_error(rid, VP_STATUS_INFER_FAILED, model.out_size);
            return;
        }
        send(&m, rid);
    }
}

static void infer_done(uint32_t rid, uint32_t total)
{
    vp_msg_t m;
    uint64_t t0, dt;
    uint32_t us;
    if (!have_model) {
        send_error(rid, VP_STATUS_NO_MODEL, 0);
        return;
    }
    if (total != model.in_size) {
        send_error(rid, VP_STATUS_BAD_INPUT_SIZE, model.in_size);
        return;
    }
    t0 = tgt_ticks();
    if (fw_model_run(&model, (const int8_t *)input, output, ARENA) != 0) {
        send_error(rid, VP_STATUS_INFER_FAILED, 0);
        return;
    }
    dt = tgt_ticks() - t0;
    n_infer++;
    us = (uint32_t)(dt * 1000000u / tgt_tick_hz());
    if (FW_K == 0u) { /* a build-time choice: the other path compiles away */
        send_tensor(rid, us);
        return;
    }
    m.type = VP_MSG_RESULT;
    m.u.result.compute_us = us;
    topk(&m.u.result, model.out_size, model_k());
    send(&m, rid);
}

static void load_begin(const vp_frame_t *f, const vp_load_begin_t *b)
{
    uint16_t st = VP_STATUS_OK;
    load.on = 0; /* a LOAD_BEGIN aborts any earlier session */
    if (f->counter <= meta.load_ctr) {
        st = VP_STATUS_LOAD_NO_SESSION; /* replayed or older than one already accepted */
    } else if (b->slot > 1u || (have_model && b->slot == meta.active)) {
        st = VP_STATUS_LOAD_BAD_SLOT;
    } else if (b->size > FW_SLOT_SIZE) {
        st = VP_STATUS_LOAD_TOO_BIG;
    } else {
        meta.load_ctr = f->counter;
        meta.size[b->slot] = 0;
        memset(meta.sha[b->slot], 0, 32);
        if (fw_meta_save(&meta) != 0 ||
            tgt_storage_erase(FW_SLOT_OFF(b->slot), (b->size + FW_SECTOR - 1u) & ~(FW_SECTOR - 1u)))
            st = VP_STATUS_LOAD_FLASH_ERROR;
    }
    if (st == VP_STATUS_OK) {
        load.on = 1;
        load.id = f->request_id;
        load.slot = b->slot;
        load.size = b->size;
        load.next = 0;
        memcpy(load.sha, b->sha256, 32);
        memcpy(load.tag, b->hmac_sha256, 32);
    }
    send_ack(f->request_id, VP_MSG_LOAD_BEGIN, st, 0);
}

static void load_chunk(const vp_frame_t *f, const vp_load_chunk_t *c)
{
    uint16_t st = VP_STATUS_OK;
    uint32_t at = FW_SLOT_OFF(load.slot) + c->offset;
    if (!load.on || f->request_id != load.id)
        st = VP_STATUS_LOAD_NO_SESSION;
    else if (vp_crc32c(0, c->data, c->len) != c->crc32c)
        st = VP_STATUS_LOAD_BAD_CRC;
    else if ((uint64_t)c->offset + c->len > load.size)
        st = VP_STATUS_LOAD_TOO_BIG;
    else if (c->offset + c->len <= load.next)
        st = VP_STATUS_OK; /* retransmission of bytes already written */
    else if (c->offset != load.next)
        st = VP_STATUS_LOAD_BAD_OFFSET;
    else if (tgt_storage_write(at, c->data, c->len) != 0 ||
             memcmp(tgt_storage() + at, c->data, c->len) != 0)
        st = VP_STATUS_LOAD_FLASH_ERROR;
    else
        load.next += c->len;
    send_ack(f->request_id, VP_MSG_LOAD_CHUNK, st, load.on ? load.next : 0);
}

static int tags_equal(const uint8_t *a, const uint8_t *b)
{
    uint8_t d = 0;
    uint32_t i;
    for (i = 0; i < 32u; i++) d |= (uint8_t)(a[i] ^ b[i]);
    return d == 0;
}

static uint16_t verify_slot(fw_model_t *candidate)
{
    uint8_t sha[32];
    vp_hmac_t h;
    const uint8_t *p = tgt_storage() + FW_SLOT_OFF(load.slot);
    if (load.next != load.size) return VP_STATUS_LOAD_INCOMPLETE;
    vp_sha256(p, load.size, sha); /* over the bytes as stored, not as received */
    if (memcmp(sha, load.sha, 32) != 0) return VP_STATUS_LOAD_BAD_HASH;
    vp_hmac_init(&h, prov.key, prov.key_len);
    vp_hmac_update(&h, p, load.size);
    vp_hmac_final(&h, sha);
    if (!tags_equal(sha, load.tag)) return VP_STATUS_LOAD_BAD_TAG;
    switch (open_slot(load.slot, load.size, candidate)) {
    case 0: break;
    case -2: return VP_STATUS_LOAD_TOO_BIG; /* valid model, but larger than this board's RAM */
    default: return VP_STATUS_INFER_FAILED; /* not a model this engine can run */
    }
    if (fw_model_self_test(candidate, ARENA, output) != 0) return VP_STATUS_INFER_FAILED;
    return VP_STATUS_OK;
}

static void load_commit(const vp_frame_t *f, const vp_load_commit_t *c)
{
    static fw_model_t candidate;
    uint16_t st;
    int activated = 0;
    if (!load.on || f->request_id != load.id) {
        send_ack(f->request_id, VP_MSG_LOAD_COMMIT, VP_STATUS_LOAD_NO_SESSION, 0);
        return;
    }
    load.on = 0; /* the session ends either way */
    st = verify_slot(&candidate);
    if (st == VP_STATUS_OK) {
        meta.size[load.slot] = load.size;
        memcpy(meta.sha[load.slot], load.sha, 32);
        if (c->activate) meta.active = load.slot;
        if (fw_meta_save(&meta) != 0) { /* the on-flash choice is unchanged: keep serving */
            fw_meta_load(&meta);
            st = VP_STATUS_LOAD_FLASH_ERROR;
        } else if (c->activate) {
            model = candidate;
            have_model = 1;
            activated = 1;
        }
    }
    send_ack(f->request_id, VP_MSG_LOAD_COMMIT, st, st == VP_STATUS_OK ? load.size : load.next);
    if (activated) {
        /* Announce the new model. The senders' windows stay: every gateway-side sender keeps
         * its own (docs/protocol.md §4), so the gateway that was serving is not locked out. */
        send_hello(0);
    }
}

static void readback(const vp_frame_t *f, const vp_readback_t *r)
{
    vp_msg_t m;
    vp_readback_reply_t *o = &m.u.readback_reply;
    uint8_t s = r->slot == VP_SLOT_ACTIVE ? (have_model ? meta.active : FW_NO_SLOT) : r->slot;
    memset(&m, 0, sizeof m);
    m.type = VP_MSG_READBACK_REPLY;
    o->slot = s;
    if (r->slot != VP_SLOT_ACTIVE && s > 1u)
        o->status = VP_STATUS_LOAD_BAD_SLOT;
    else if (s > 1u || meta.size[s] == 0u)
        o->status = VP_STATUS_NO_MODEL;
    else {
        o->status = VP_STATUS_OK;
        o->size = meta.size[s];
        fw_slot_sha(s, o->size, o->sha256); /* recomputed from the stored bytes */
    }
    send(&m, f->request_id);
}

static void handle(const vp_frame_t *f)
{
    vp_msg_t m;
    uint32_t too_big = reasm.too_big;
    if (vp_msg_unpack(f->type, f->payload, f->payload_len, &m) != 0) return;
    switch (f->type) {
    case VP_MSG_PROBE:
        if (m.u.probe.want == VP_MSG_HELLO) send_hello(f->request_id);
        else send_heartbeat(f->request_id);
        break;
    case VP_MSG_INFER:
        if (vp_reasm_add(&reasm, f, &m.u.infer, tgt_millis()))
            infer_done(f->request_id, reasm.total);
        else if (reasm.too_big != too_big)
            send_error(f->request_id, VP_STATUS_BAD_INPUT_SIZE, have_model ? model.in_size : 0);
        break;
    case VP_MSG_LOAD_BEGIN: load_begin(f, &m.u.load_begin); break;
    case VP_MSG_LOAD_CHUNK: load_chunk(f, &m.u.load_chunk); break;
    case VP_MSG_LOAD_COMMIT: load_commit(f, &m.u.load_commit); break;
    case VP_MSG_READBACK: readback(f, &m.u.readback); break;
    default: send_error(f->request_id, VP_STATUS_UNSUPPORTED, f->type); break;
    }
}

void fw_run(void)
{
    vp_frame_t f;
    uint32_t last_hb;
    fw_prov_read(&prov);
    me[0] = prov.board_id;
    vp_auth_init(&auth, key_ptr(), prov.key_len, VP_ROLE_BOARD, me, 1);
    vp_stream_init(&rx);
    vp_reasm_init(&reasm, input, FW_INPUT_MAX, FW_REASM_TIMEOUT_MS);
    fw_meta_load(&meta);
    meta.epoch++; /* docs/protocol.md §4: persist the new epoch before the first frame */
    select_model();
    if (fw_meta_save(&meta) != 0) meta.epoch += 0x10000u; /* flash broken: never reuse one */
    boot_ms = last_hb = tgt_millis();
    send_hello(0);
    for (;;) {
        int c, busy = 0;
        uint32_t now;
        while ((c = tgt_uart_getc()) >= 0) {
            busy = 1;
            if (vp_stream_feed(&rx, &auth, (uint8_t)c, &f)) handle(&f);
            else if (auth.stale_probe) { /* docs/protocol.md §4: challenge an older sender */
                auth.stale_probe = 0;
                send_error(auth.stale_rid, VP_STATUS_STALE_COUNTER,
                           vp_auth_challenge(&auth, (uint64_t)meta.epoch << 32 | seq));
            }
        }
        now = tgt_millis();
        if (vp_reasm_expire(&reasm, now))
            send_error(reasm.request_id, VP_STATUS_REASSEMBLY_TIMEOUT, 0);
        if (now - last_hb >= FW_HEARTBEAT_MS) {
            last_hb = now;
            send_heartbeat(0);
        }
        if (!busy) tgt_idle();
    }
}
