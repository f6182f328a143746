/* fw.h: the portable vp-edge board firmware and the small interface each target implements.
 *
 * The core (fw_main.c, fw_store.c, fw_model.c) is C99, no malloc, no recursion; everything that
 * touches hardware is one of the tgt_* functions below, implemented once per target in
 * target/<name>/ (host: POSIX pty + a flash file; qemu: the mps2 FPGA images, CMSDK UART0,
 * SysTick, semihosting-backed flash; stm32f4: RCC, USART with an RX ring, SysTick, the
 * embedded flash interface). Which target gets which layout and clock is data, in
 * firmware_bridge/firmware/targets.py. See docs/firmware.md.
 *
 * Storage ("flash") is one memory-mapped region of FW_STORAGE_SIZE bytes that the core reads
 * directly (the model runs in place, as from XIP flash) and changes only via tgt_storage_write /
 * tgt_storage_erase, which persist before returning. Layout (offsets in the region):
 *   0x0000  provisioning record (board id, deployment key), written by the host tools
 *   0x1000  slot-metadata record, copy A     } a record has a sequence number and a CRC; the
 *   0x2000  slot-metadata record, copy B     } valid one with the higher sequence wins
 *   0x4000  model slot 0, FW_SLOT_SIZE bytes
 *   ...     model slot 1
 */
#ifndef FW_H
#define FW_H

#include <stddef.h>
#include <stdint.h>

#ifndef FW_STORAGE_SIZE
#define FW_STORAGE_SIZE 0xE0000u /* 896 KiB: 1 MiB flash minus 128 KiB of firmware */
#endif
/* The layout below is the default (a 4 KB erase unit); a target overrides it with -D from
 * firmware_bridge/firmware/targets.py (STM32F4: 16 KB records in sectors 1-3, slots in 128 KB
 * sectors). */
#ifndef FW_SECTOR
#define FW_SECTOR 4096u /* record spacing: each record is erased alone */
#endif
#define FW_PROV_OFF 0u
#define FW_META_OFF(i) (FW_SECTOR * (1u + (uint32_t)(i)))
#ifndef FW_SLOTS_OFF
#define FW_SLOTS_OFF (4u * FW_SECTOR)
#endif
#ifndef FW_SLOT_SIZE
#define FW_SLOT_SIZE (((FW_STORAGE_SIZE - FW_SLOTS_OFF) / 2u) & ~(FW_SECTOR - 1u))
#endif
#define FW_SLOT_OFF(i) (FW_SLOTS_OFF + (uint32_t)(i) * FW_SLOT_SIZE)
#define FW_NO_SLOT 0xFFu

#ifndef FW_ARENA_SIZE
#define FW_ARENA_SIZE (128u * 1024u) /* engine scratch: activations of the running model */
#endif
#ifndef FW_INPUT_MAX
#define FW_INPUT_MAX (32u * 1024u) /* largest INFER tensor (96 x 96 x 3 = 27648) */
#endif
#ifndef FW_K
#define FW_K 5u /* pairs per RESULT; 0: INFER is answered with TENSOR, the whole output */
#endif
#ifndef FW_OUTPUT_MAX
#if FW_K == 0
#define FW_OUTPUT_MAX (8u * 1024u) /* a tensor part's whole output (e.g. a cut's activations) */
#else
#define FW_OUTPUT_MAX 1024u /* classes */
#endif
#endif
#ifndef FW_HEARTBEAT_MS
#define FW_HEARTBEAT_MS 5000u
#endif
#ifndef FW_REASM_TIMEOUT_MS
#define FW_REASM_TIMEOUT_MS 1000u
#endif
#ifndef FW_DEFAULT_BOARD_ID
#define FW_DEFAULT_BOARD_ID 1u
#endif
#define FW_MAX_KEY 64u

/* ---- target interface (target/<name>/) */
int tgt_uart_getc(void);                          /* next received byte, -1 if none waiting */
void tgt_uart_write(const uint8_t *p, size_t n);  /* blocking */
uint32_t tgt_millis(void);                        /* monotonic, wraps */
uint64_t tgt_ticks(void);                         /* monotonic, at tgt_tick_hz() */
uint32_t tgt_tick_hz(void);
const uint8_t *tgt_storage(void);                 /* FW_STORAGE_SIZE readable bytes */
int tgt_storage_write(uint32_t off, const uint8_t *p, uint32_t n); /* 0 ok, persisted */
int tgt_storage_erase(uint32_t off, uint32_t n);  /* to 0xFF; 0 ok, persisted */
void tgt_idle(void);                              /* nothing to do: wait a little */

/* ---- the core, called by the target's main() once the storage is readable */
void fw_run(void); /* never returns */

/* ---- slot metadata (fw_store.c) */
typedef struct {
    uint32_t magic, seq;
    uint8_t active, reserved[3];
    uint32_t epoch;      /* boot epoch of this board's frame counter (docs/protocol.md §4) */
    uint64_t load_ctr;   /* counter of the last LOAD_BEGIN accepted (anti-replay, §3) */
    uint32_t size[2];    /* verified artefact size per slot; 0 = slot holds nothing usable */
    uint8_t sha[2][32];  /* SHA-256 of each verified slot */
    uint32_t crc;        /* CRC-32C of every byte before it */
} fw_meta_t;

typedef struct {
    uint16_t board_id;
    uint8_t key[FW_MAX_KEY];
    uint32_t key_len; /* 0: insecure (bring-up only) */
    int provisioned;
} fw_prov_t;

void fw_prov_read(fw_prov_t *p);
/* Load the newest valid record (or a blank one). */
void fw_meta_load(fw_meta_t *m);
/* Persist m as the next record (seq + 1) in the copy that does not hold the current one. */
int fw_meta_save(fw_meta_t *m);
void fw_slot_sha(uint8_t slot, uint32_t size, uint8_t out[32]);

/* ---- the engine, kept in its own unit (its header's names clash with vp_proto.h) */
typedef struct {
    uint32_t in_size, out_size, arena_size;
    int32_t out_zp;
    uint32_t out_scale_bits;
    int has_golden;
    uint64_t opaque[20]; /* a vp_model_info (checked at compile time) */
} fw_model_t;

int fw_model_open(fw_model_t *m, const uint8_t *vpw, uint32_t len); /* 0 ok */
int fw_model_run(const fw_model_t *m, const int8_t *in, int8_t *out, uint8_t *arena);
int fw_model_self_test(const fw_model_t *m, uint8_t *arena, int8_t *out); /* 0 = passed */

#endif /* FW_H */
