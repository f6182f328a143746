/* fuzz_decode.c: libFuzzer target for the vp_proto decoders (see docs/fuzzing.md).
 *
 * The first input byte picks a mode, the rest is the data:
 *   0 serial stream decoder (COBS + frame checks), byte by byte, secure gateway receiver
 *   1 datagram decoder, secure board receiver
 *   2 structured: data is header + payload; the harness fixes payload_len, the HMAC tag and the
 *     CRC so the payload parsers and the INFER reassembler see well-framed garbage
 *   3 same as 2 but insecure frames at an insecure receiver
 *   4 COBS round trip of the data (encode, then decode must give the data back)
 * Any accepted frame is unpacked and re-packed; the re-packed size must equal the payload size.
 */
#include <stdlib.h>
#include <string.h>

#include "../vp_proto.h"

static const uint8_t KEY[16] = "fuzz-deploy-key!";
static uint8_t frame[VP_MAX_FRAME + 64], scratch[VP_MAX_FRAME + 64], tensor[4096];
static uint8_t enc[VP_COBS_MAX(VP_MAX_FRAME + 64)];
static vp_stream_t rx;
static vp_reasm_t reasm;

static void use(const vp_frame_t *f, uint32_t now)
{
    vp_msg_t m;
    size_t n;
    if (vp_msg_unpack(f->type, f->payload, f->payload_len, &m) != 0) abort(); /* checked before */
    n = vp_msg_pack(&m, scratch, sizeof scratch);
    if (n != f->payload_len) abort();
    if (m.type == VP_MSG_INFER) vp_reasm_add(&reasm, f, &m.u.infer, now);
}

static void structured(const uint8_t *d, size_t n, int secure)
{
    vp_auth_t a;
    vp_frame_t f;
    size_t plen, total;
    uint8_t mac[32];
    if (n < VP_HEADER_SIZE || n > VP_MAX_FRAME - VP_TAG_SIZE - VP_CRC_SIZE) return;
    plen = n - VP_HEADER_SIZE;
    memcpy(frame, d, n);
    frame[0] = VP_MAGIC;
    frame[1] = VP_VERSION;
    frame[3] &= (uint8_t)VP_FLAG_FROM_GATEWAY;
    if (!secure) frame[3] |= VP_FLAG_INSECURE;
    frame[10] = (uint8_t)plen;
    frame[11] = (uint8_t)(plen >> 8);
    total = n;
    if (secure) {
        vp_hmac_sha256(KEY, sizeof KEY, frame, n, mac);
        memcpy(frame + n, mac, VP_TAG_SIZE);
        total += VP_TAG_SIZE;
    }
    {
        uint32_t c = vp_crc32c(0, frame, total);
        frame[total] = (uint8_t)c, frame[total + 1] = (uint8_t)(c >> 8);
        frame[total + 2] = (uint8_t)(c >> 16), frame[total + 3] = (uint8_t)(c >> 24);
        total += 4;
    }
    vp_auth_init(&a, secure ? KEY : NULL, secure ? sizeof KEY : 0,
                 (frame[3] & VP_FLAG_FROM_GATEWAY) ? VP_ROLE_BOARD : VP_ROLE_GATEWAY, NULL, 0);
    if (vp_frame_check(&a, frame, total, &f)) use(&f, (uint32_t)d[6] * 100u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vp_auth_t a;
    vp_frame_t f;
    size_t i, n;
    if (size < 1) return 0;
    vp_reasm_init(&reasm, tensor, sizeof tensor, 50);
    switch (data[0] % 5u) {
    case 0:
        vp_auth_init(&a, KEY, sizeof KEY, VP_ROLE_GATEWAY, NULL, 0);
        vp_stream_init(&rx);
        for (i = 1; i < size; i++)
            if (vp_stream_feed(&rx, &a, data[i], &f)) use(&f, (uint32_t)i);
        break;
    case 1:
        vp_auth_init(&a, KEY, sizeof KEY, VP_ROLE_BOARD, NULL, 0);
        if (vp_frame_check(&a, data + 1, size - 1, &f)) use(&f, 0);
        break;
    case 2:
    case 3:
        /* several frames separated by 0xFF 0xFF so reassembly sees sequences */
        for (i = 1; i < size;) {
            size_t j = i;
            while (j + 1 < size && !(data[j] == 0xFF && data[j + 1] == 0xFF)) j++;
            if (j + 1 >= size) j = size;
            structured(data + i, j - i, data[0] % 5u == 2u);
            i = j + 2;
        }
        break;
    default:
        if (size - 1 > VP_MAX_FRAME + 64) return 0;
        n = vp_cobs_encode(data + 1, size - 1, enc, sizeof enc);
        if (n == 0 || n > VP_COBS_MAX(size - 1) || memchr(enc, 0, n)) abort();
        if (vp_cobs_decode(enc, n, scratch, sizeof scratch, &i) != 0 || i != size - 1 ||
            memcmp(scratch, data + 1, i) != 0)
            abort();
        break;
    }
    return 0;
}
