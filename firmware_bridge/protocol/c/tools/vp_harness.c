/* vp_harness.c: host tool used by tests/bridge to cross-check the C codec against Python.
 *
 *   vp_harness frames KEYHEX|-   stdin lines "g|b HEX": check each frame with a fresh receiver
 *                                of that role, then re-encode it from the C-unpacked message.
 *                                Prints "OK <frame hex> <serial hex>" or "DROP <reason>".
 *   vp_harness stream KEYHEX|- g|b  stdin: hex of a byte stream (any line breaks); prints
 *                                "OK <type> <board> <request> <counter>" per accepted frame,
 *                                "CHALLENGE <request> <nonce>" per stale PROBE (board role,
 *                                nonce of board counter 1, 2, ...), then
 *                                "STATS accepted=<n> <reason>=<n>...".
 *   vp_harness tensor KEYHEX|- MAX_FRAME COMPUTE_US  stdin: hex of a tensor; prints the hex of
 *                                each TENSOR frame of it (board 3, request 9) that vp_chunk_split
 *                                makes at MAX_FRAME, one per line (what a k = 0 firmware sends).
 *   vp_harness reasm KEYHEX|- CAP   stdin lines "<now_ms> HEX": gateway INFER frames for a board
 *                                receiver; prints "DONE <request> <tensor hex>" when a tensor
 *                                completes, "EXPIRED <request>" on timeout (1000 ms), then
 *                                "STATS completed=.. incomplete=.. inconsistent=.. duplicate=.."
 *                                " too_big=..".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../vp_proto.h"

static uint8_t line[1 << 17], frame[1 << 16], out[VP_MAX_FRAME], ser[VP_SERIAL_MAX];
static uint8_t key[256];
static size_t key_len;

static const char *const DROP_NAMES[VP_DROP_COUNT] = {
#define NAME(r) #r,
    VP_DROP_TABLE(NAME)
#undef NAME
};

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static size_t unhex(const char *s, uint8_t *dst, size_t cap)
{
    size_t n = 0;
    while (s[0] && s[1] && hexval(s[0]) >= 0 && hexval(s[1]) >= 0 && n < cap) {
        dst[n++] = (uint8_t)(hexval(s[0]) * 16 + hexval(s[1]));
        s += 2;
    }
    return n;
}

static void puthex(const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) printf("%02x", p[i]);
}

static uint8_t role_of(char c) { return c == 'b' ? VP_ROLE_BOARD : VP_ROLE_GATEWAY; }

static int frames(void)
{
    vp_auth_t a;
    vp_frame_t f;
    vp_msg_t m;
    int i;
    while (fgets((char *)line, sizeof line, stdin)) {
        size_t n = unhex((const char *)line + 2, frame, sizeof frame), fn, sn;
        vp_auth_init(&a, key_len ? key : NULL, key_len, role_of((char)line[0]), NULL, 0);
        if (!vp_frame_check(&a, frame, n, &f)) {
            for (i = 0; i < (int)VP_DROP_COUNT && !a.drops[i]; i++) {}
            printf("DROP %s\n", i < (int)VP_DROP_COUNT ? DROP_NAMES[i] : "?");
            continue;
        }
        if (vp_msg_unpack(f.type, f.payload, f.payload_len, &m) != 0) return 2;
        fn = vp_msg_frame(&m, out, sizeof out, f.board_id, f.request_id, f.counter,
                          key_len ? key : NULL, key_len);
        sn = vp_serial_encode(out, fn, ser, sizeof ser);
        printf("OK ");
        puthex(out, fn);
        printf(" ");
        puthex(ser, sn);
        printf("\n");
    }
    return 0;
}

static int stream(uint8_t role)
{
    static vp_stream_t s;
    vp_auth_t a;
    vp_frame_t f;
    unsigned i;
    uint64_t challenges = 0;
    vp_auth_init(&a, key_len ? key : NULL, key_len, role, NULL, 0);
    vp_stream_init(&s);
    while (fgets((char *)line, sizeof line, stdin)) {
        size_t n = unhex((const char *)line, frame, sizeof frame), j;
        for (j = 0; j < n; j++)
            if (vp_stream_feed(&s, &a, frame[j], &f))
                printf("OK %u %u %lu %llu\n", f.type, f.board_id, (unsigned long)f.request_id,
                       (unsigned long long)f.counter);
            else if (a.stale_probe) { /* what a board answers: ERROR(STALE_COUNTER, nonce) */
                a.stale_probe = 0;
                printf("CHALLENGE %lu %lu\n", (unsigned long)a.stale_rid,
                       (unsigned long)vp_auth_challenge(&a, ++challenges));
            }
    }
    printf("STATS accepted=%lu", (unsigned long)a.accepted);
    for (i = 0; i < VP_DROP_COUNT; i++) printf(" %s=%lu", DROP_NAMES[i], (unsigned long)a.drops[i]);
    printf("\n");
    return 0;
}

static uint8_t tensor[1 << 16];

static int reasm(uint32_t cap)
{
    static vp_reasm_t r;
    vp_auth_t a;
    vp_frame_t f;
    vp_msg_t m;
    unsigned long now;
    char *sp;
    vp_auth_init(&a, key_len ? key : NULL, key_len, VP_ROLE_BOARD, NULL, 0);
    vp_reasm_init(&r, tensor, cap < sizeof tensor ? cap : (uint32_t)sizeof tensor, 1000);
    while (fgets((char *)line, sizeof line, stdin)) {
        size_t n;
        now = strtoul((const char *)line, &sp, 10);
        n = unhex(sp + 1, frame, sizeof frame);
        if (vp_reasm_expire(&r, (uint32_t)now)) printf("EXPIRED %lu\n", (unsigned long)r.request_id);
        if (!vp_frame_check(&a, frame, n, &f) || f.type != VP_MSG_INFER) continue;
        if (vp_msg_unpack(f.type, f.payload, f.payload_len, &m) != 0) return 2;
        if (vp_reasm_add(&r, &f, &m.u.infer, (uint32_t)now)) {
            printf("DONE %lu ", (unsigned long)f.request_id);
            puthex(tensor, r.total);
            printf("\n");
        }
    }
    printf("STATS completed=%lu incomplete=%lu inconsistent=%lu duplicate=%lu too_big=%lu\n",
           (unsigned long)r.completed, (unsigned long)r.incomplete,
           (unsigned long)r.inconsistent, (unsigned long)r.duplicate, (unsigned long)r.too_big);
    return 0;
}

static int tensor_frames(size_t max_frame, uint32_t compute_us)
{
    vp_msg_t m;
    uint16_t i, count = 1;
    uint32_t total;
    if (!fgets((char *)line, sizeof line, stdin)) return 2;
    total = (uint32_t)unhex((const char *)line, tensor, sizeof tensor);
    m.type = VP_MSG_TENSOR;
    m.u.tensor.compute_us = compute_us;
    for (i = 0; i < count; i++) {
        size_t n;
        count = vp_chunk_split(tensor, total, max_frame, key_len != 0, VP_FIXED_TENSOR, i,
                               &m.u.tensor.chunk);
        if (count == 0) return 3;
        n = vp_msg_frame(&m, frame, max_frame, 3, 9, (1ull << 32) | (i + 1u),
                         key_len ? key : NULL, key_len);
        if (n == 0) return 4;
        puthex(frame, n);
        printf("\n");
    }
    return 0;
}

/* boardkey MASTER ID...: one line per id, the derived key in hex. */
static int boardkey(char **ids, int n)
{
    uint8_t k[32];
    int i;
    for (i = 0; i < n; i++) {
        vp_board_key(key, key_len, (uint16_t)strtoul(ids[i], 0, 10), k);
        puthex(k, sizeof k);
        putchar('\n');
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) return 64;
    key_len = strcmp(argv[2], "-") == 0 ? 0 : unhex(argv[2], key, sizeof key);
    if (strcmp(argv[1], "frames") == 0) return frames();
    if (strcmp(argv[1], "boardkey") == 0 && argc > 3) return boardkey(argv + 3, argc - 3);
    if (strcmp(argv[1], "stream") == 0 && argc > 3) return stream(role_of(argv[3][0]));
    if (strcmp(argv[1], "tensor") == 0 && argc > 4)
        return tensor_frames(strtoul(argv[3], 0, 10), (uint32_t)strtoul(argv[4], 0, 10));
    if (strcmp(argv[1], "reasm") == 0 && argc > 3) return reasm((uint32_t)strtoul(argv[3], 0, 10));
    return 64;
}
