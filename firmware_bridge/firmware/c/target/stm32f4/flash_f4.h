/* flash_f4.h: the STM32F4 embedded-flash interface (FLASH_KEYR/SR/CR), as RM0090 section 3 (F405)
 * and RM0390 section 3 (F446) describe it: unlock with the two keys, sector erase (SER, SNB,
 * STRT), programming with PG and a parallelism PSIZE, BSY polled after every operation, the
 * error flags checked, the data cache reset so reads see the new bytes, the interface relocked.
 *
 * Register access goes through F4_RD/F4_WR/F4_ST so that the host build can route it to a
 * simulated interface (target/host/f4_flash_sim.c) that checks and records the sequence.
 */
#ifndef FLASH_F4_H
#define FLASH_F4_H

#include <stdint.h>

#define F4_FLASH_IF 0x40023C00u
#define F4_ACR 0x00u
#define F4_KEYR 0x04u
#define F4_SR 0x0Cu
#define F4_CR 0x10u
#define F4_KEY1 0x45670123u
#define F4_KEY2 0xCDEF89ABu

#define F4_SR_EOP (1u << 0)
#define F4_SR_OPERR (1u << 1)
#define F4_SR_WRPERR (1u << 4)
#define F4_SR_PGAERR (1u << 5)
#define F4_SR_PGPERR (1u << 6)
#define F4_SR_PGSERR (1u << 7)
#define F4_SR_ERRORS (F4_SR_OPERR | F4_SR_WRPERR | F4_SR_PGAERR | F4_SR_PGPERR | F4_SR_PGSERR)
#define F4_SR_BSY (1u << 16)

#define F4_CR_PG (1u << 0)
#define F4_CR_SER (1u << 1)
#define F4_CR_SNB(n) ((uint32_t)(n) << 3)
#define F4_CR_PSIZE_X8 (0u << 8)
#define F4_CR_PSIZE_X32 (2u << 8)
#define F4_CR_STRT (1u << 16)
#define F4_CR_LOCK (1u << 31)

#define F4_ACR_DCEN (1u << 10)
#define F4_ACR_DCRST (1u << 12)

#define F4_FLASH_BASE 0x08000000u

#ifdef FW_HOST_F4
uint32_t f4sim_read(uint32_t reg);
void f4sim_write(uint32_t reg, uint32_t v);
void f4sim_store(uint32_t addr, uint32_t v, unsigned size);
const volatile uint8_t *f4sim_ptr(uint32_t addr);
#define F4_MEM(a) f4sim_ptr(a)
#define F4_RD(r) f4sim_read(r)
#define F4_WR(r, v) f4sim_write((r), (v))
#define F4_ST32(a, v) f4sim_store((a), (v), 4u)
#define F4_ST8(a, v) f4sim_store((a), (v), 1u)
#else
#define F4_RD(r) (*(volatile uint32_t *)(F4_FLASH_IF + (r)))
#define F4_WR(r, v) (*(volatile uint32_t *)(F4_FLASH_IF + (r)) = (v))
#define F4_ST32(a, v) (*(volatile uint32_t *)(uintptr_t)(a) = (v))
#define F4_ST8(a, v) (*(volatile uint8_t *)(uintptr_t)(a) = (uint8_t)(v))
#define F4_MEM(a) ((const volatile uint8_t *)(uintptr_t)(a))
#endif

/* Sector holding a flash address (RM0090 table 5, RM0390 table 4: 4 x 16 KB, 64 KB, 128 KB...),
 * and that sector's start and size. */
uint32_t f4_sector(uint32_t addr, uint32_t *start, uint32_t *size);
/* Erase every sector that [addr, addr + n) touches; 0 ok, then checked blank. */
int f4_flash_erase(uint32_t addr, uint32_t n);
/* Program n bytes at addr (x32 words where aligned, x8 for the ends); 0 ok, then read back. */
int f4_flash_program(uint32_t addr, const uint8_t *p, uint32_t n);

#endif /* FLASH_F4_H */
