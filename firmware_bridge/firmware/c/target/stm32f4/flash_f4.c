/* flash_f4.c: STM32F4 embedded-flash driver for the model slots and the metadata records.
 *
 * Written from RM0090 (STM32F405/407) section 3.5-3.7 and RM0390 (STM32F446) section 3.5-3.7:
 *   unlock  (3.5.1)  if CR.LOCK: KEYR <- KEY1, KEYR <- KEY2
 *   erase   (3.5.3)  wait !SR.BSY; CR <- SER | SNB | PSIZE; CR |= STRT; wait !SR.BSY
 *   program (3.5.4)  wait !SR.BSY; CR <- PG | PSIZE; write the word/byte; wait !SR.BSY
 *   errors  (3.7.5)  SR.PGSERR/PGPERR/PGAERR/WRPERR/OPERR, cleared by writing 1 before starting
 *   then    CR <- LOCK, and the ART data cache reset (ACR.DCRST with DCEN off, 3.4.2) so that
 *           reads through it see the new contents.
 * PSIZE x32 assumes a 2.7-3.6 V supply (RM0090 table 6), as on the NUCLEO and Discovery boards.
 * A power cut during an erase or a program leaves that sector or word undefined; fw_store.c's
 * two record copies and the A/B slots make that safe. Code runs from the same (single) bank:
 * the bus stalls while BSY, as the manual allows.
 */
#include "flash_f4.h"

#define BSY_SPINS 0x20000000u /* > the 4 s worst-case 128 KB erase at 168-180 MHz */

uint32_t f4_sector(uint32_t addr, uint32_t *start, uint32_t *size)
{
    uint32_t off = addr - F4_FLASH_BASE, n;
    if (off < 0x10000u) {
        n = off / 0x4000u, *start = F4_FLASH_BASE + n * 0x4000u, *size = 0x4000u;
    } else if (off < 0x20000u) {
        n = 4u, *start = F4_FLASH_BASE + 0x10000u, *size = 0x10000u;
    } else {
        n = 5u + (off - 0x20000u) / 0x20000u;
        *start = F4_FLASH_BASE + 0x20000u + (n - 5u) * 0x20000u, *size = 0x20000u;
    }
    return n;
}

static int wait_idle(void)
{
    uint32_t i, sr = 0;
    for (i = 0; i < BSY_SPINS; i++) {
        sr = F4_RD(F4_SR);
        if (!(sr & F4_SR_BSY)) break;
    }
    if (sr & F4_SR_BSY) return -1;
    return (sr & F4_SR_ERRORS) ? -1 : 0;
}

static int unlock(void)
{
    if (F4_RD(F4_CR) & F4_CR_LOCK) {
        F4_WR(F4_KEYR, F4_KEY1);
        F4_WR(F4_KEYR, F4_KEY2);
    }
    if (F4_RD(F4_CR) & F4_CR_LOCK) return -1;
    if (F4_RD(F4_SR) & F4_SR_BSY && wait_idle() != 0) return -1;
    F4_WR(F4_SR, F4_SR_EOP | F4_SR_ERRORS); /* clear what an earlier operation left */
    return 0;
}

static int finish(int rc)
{
    uint32_t acr;
    F4_WR(F4_CR, F4_CR_LOCK);
    acr = F4_RD(F4_ACR);
    if (acr & F4_ACR_DCEN) { /* DCRST is writable only with the data cache off */
        F4_WR(F4_ACR, acr & ~F4_ACR_DCEN);
        F4_WR(F4_ACR, (acr & ~F4_ACR_DCEN) | F4_ACR_DCRST);
        F4_WR(F4_ACR, acr & ~F4_ACR_DCRST);
    }
    return rc;
}

int f4_flash_erase(uint32_t addr, uint32_t n)
{
    uint32_t start, size, end = addr + n, sec, i;
    int rc = 0;
    if (n == 0u) return 0;
    if (unlock() != 0) return finish(-1);
    while (rc == 0 && addr < end) {
        sec = f4_sector(addr, &start, &size);
        F4_WR(F4_CR, F4_CR_SER | F4_CR_SNB(sec) | F4_CR_PSIZE_X32);
        F4_WR(F4_CR, F4_CR_SER | F4_CR_SNB(sec) | F4_CR_PSIZE_X32 | F4_CR_STRT);
        rc = wait_idle();
        F4_WR(F4_CR, 0u);
        addr = start + size;
    }
    rc = finish(rc);
    for (i = end - n; rc == 0 && i < end; i++) /* blank check: QEMU's ROM erases nothing */
        if (*F4_MEM(i) != 0xFFu) rc = -1;
    return rc;
}

static int put(uint32_t addr, const uint8_t *p, int word)
{
    F4_WR(F4_CR, F4_CR_PG | (word ? F4_CR_PSIZE_X32 : F4_CR_PSIZE_X8));
    if (word)
        F4_ST32(addr, (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                          (uint32_t)p[3] << 24);
    else
        F4_ST8(addr, p[0]);
    return wait_idle();
}

int f4_flash_program(uint32_t addr, const uint8_t *p, uint32_t n)
{
    uint32_t i = 0;
    int rc;
    if (n == 0u) return 0;
    if (unlock() != 0) return finish(-1);
    rc = 0;
    while (rc == 0 && i < n) {
        int word = ((addr + i) & 3u) == 0u && n - i >= 4u;
        rc = put(addr + i, p + i, word);
        i += word ? 4u : 1u;
    }
    F4_WR(F4_CR, 0u);
    rc = finish(rc);
    for (i = 0; rc == 0 && i < n; i++) /* read back through the (reset) cache */
        if (F4_MEM(addr + i)[0] != p[i]) rc = -1;
    return rc;
}
