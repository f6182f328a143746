/* f4_flash_sim.c: a simulated STM32F4 flash interface for the host build of flash_f4.c.
 *
 * It behaves as RM0090/RM0390 section 3 describe: CR is locked until KEY1 then KEY2 are written
 * to KEYR (any other write locks it until reset); an erase needs SER, a sector number and STRT;
 * a program needs PG, an access of the PSIZE width and an aligned address; bits only go from 1
 * to 0; sectors the firmware occupies (0 and 4, write-protected as a real board would set nWRP)
 * refuse erase and program with WRPERR; SR.BSY stays set for a few reads after each operation.
 * Anything the manual forbids (CR written while BSY or locked, KEYR misuse, a store outside
 * the storage) is counted in f4sim_violations and, unless f4sim_fatal is cleared, ends the
 * process with status 87. With f4sim_trace set every access is printed to stderr
 * ("W CR 00000202", "S32 08020000 12345678", "R SR 00010000"): the unit harness reads it.
 *
 * The flash bytes are the host target's storage array (f4sim_attach); every completed erase or
 * program is handed to a persist callback, so the flash file follows like the real part.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../stm32f4/flash_f4.h"

int f4sim_trace, f4sim_violations, f4sim_fatal = 1; /* fatal: a violation ends the process */
static uint8_t *mem;
static uint32_t mem_base, mem_size, cr = F4_CR_LOCK, sr, acr, key_stage, busy;
static int hard_lock;
static void (*persist)(uint32_t off, uint32_t n);

void f4sim_attach(uint8_t *m, uint32_t base, uint32_t size, void (*cb)(uint32_t, uint32_t))
{
    mem = m, mem_base = base, mem_size = size, persist = cb;
}

static const char *name(uint32_t reg)
{
    switch (reg) {
    case F4_ACR: return "ACR";
    case F4_KEYR: return "KEYR";
    case F4_SR: return "SR";
    case F4_CR: return "CR";
    default: return "?";
    }
}

static void violation(const char *what)
{
    f4sim_violations++;
    if (f4sim_trace || f4sim_fatal) fprintf(stderr, "VIOLATION %s\n", what);
    if (f4sim_fatal) exit(87);
}

static int protected_sector(uint32_t n) { return n == 0u || n == 4u; }

/* Address inside the attached storage, else NULL (the firmware's own sectors, or off the part). */
static uint8_t *at(uint32_t addr, uint32_t n)
{
    if (addr < mem_base || addr - mem_base > mem_size || n > mem_size - (addr - mem_base))
        return NULL;
    return mem + (addr - mem_base);
}

const volatile uint8_t *f4sim_ptr(uint32_t addr)
{
    static uint8_t ff = 0xFF;
    uint8_t *p = at(addr, 1u);
    return p ? p : &ff;
}

uint32_t f4sim_read(uint32_t reg)
{
    uint32_t v = 0;
    switch (reg) {
    case F4_SR:
        v = sr | (busy ? F4_SR_BSY : 0u);
        if (busy && --busy == 0u) sr |= F4_SR_EOP;
        break;
    case F4_CR: v = cr; break;
    case F4_ACR: v = acr; break;
    default: break;
    }
    if (f4sim_trace) fprintf(stderr, "R %s %08x\n", name(reg), (unsigned)v);
    return v;
}

static void erase(uint32_t snb)
{
    uint32_t start, size;
    uint8_t *p;
    if (snb > 11u) return (void)(sr |= F4_SR_OPERR);
    f4_sector(F4_FLASH_BASE + (snb < 4u ? snb * 0x4000u : snb == 4u ? 0x10000u
                                                                    : 0x20000u * (snb - 4u)),
              &start, &size);
    if (protected_sector(snb) || (cr & (3u << 8)) != F4_CR_PSIZE_X32) {
        sr |= protected_sector(snb) ? F4_SR_WRPERR : F4_SR_PGPERR;
        return;
    }
    busy = 3u;
    if ((p = at(start, size)) == NULL) return violation("erase of a sector outside the storage");
    memset(p, 0xFF, size);
    if (persist) persist(start - mem_base, size);
}

void f4sim_write(uint32_t reg, uint32_t v)
{
    if (f4sim_trace) fprintf(stderr, "W %s %08x\n", name(reg), (unsigned)v);
    switch (reg) {
    case F4_KEYR:
        if (hard_lock || !(cr & F4_CR_LOCK)) {
            violation("KEYR written while unlocked or after a wrong key");
            hard_lock = 1;
        } else if (key_stage == 0u && v == F4_KEY1) {
            key_stage = 1u;
        } else if (key_stage == 1u && v == F4_KEY2) {
            key_stage = 0u, cr &= ~F4_CR_LOCK;
        } else {
            violation("wrong KEYR sequence: CR locked until reset");
            hard_lock = 1;
        }
        break;
    case F4_SR: sr &= ~(v & (F4_SR_EOP | F4_SR_ERRORS)); break;
    case F4_CR:
        if (cr & F4_CR_LOCK) return violation("CR written while locked");
        if (busy) return violation("CR written while BSY");
        cr = v & ~F4_CR_STRT;
        if ((v & F4_CR_STRT) && (v & F4_CR_SER) && !(v & F4_CR_PG)) erase((v >> 3) & 15u);
        else if (v & F4_CR_STRT) sr |= F4_SR_PGSERR;
        break;
    case F4_ACR:
        if ((v & F4_ACR_DCRST) && (v & F4_ACR_DCEN)) violation("DCRST with the data cache on");
        acr = v & ~F4_ACR_DCRST;
        break;
    default: violation("write to an unknown register"); break;
    }
}

void f4sim_store(uint32_t addr, uint32_t v, unsigned size)
{
    uint32_t psize = (cr >> 8) & 3u, snb, s0, s1, i;
    uint8_t *p = at(addr, size);
    if (f4sim_trace) fprintf(stderr, "S%u %08x %08x\n", size * 8u, (unsigned)addr, (unsigned)v);
    if (busy) return violation("flash written while BSY");
    if (!(cr & F4_CR_PG) || (cr & F4_CR_SER)) return (void)(sr |= F4_SR_PGSERR);
    if ((size == 4u && psize != 2u) || (size == 1u && psize != 0u))
        return (void)(sr |= F4_SR_PGPERR);
    if (addr & (size - 1u)) return (void)(sr |= F4_SR_PGAERR);
    snb = f4_sector(addr, &s0, &s1);
    if (protected_sector(snb)) return (void)(sr |= F4_SR_WRPERR);
    if (!p) return violation("program outside the storage");
    for (i = 0; i < size; i++) p[i] &= (uint8_t)(v >> (8u * i)); /* 1 -> 0 only */
    busy = 1u;
    if (persist) persist(addr - mem_base, size);
}

/* For the unit harness: the interface busy for the next n reads of SR (an operation under way),
 * and the data cache switched on as the STM32F4 target's clock set-up leaves it. */
void f4sim_set(uint32_t busy_reads, uint32_t acr_value)
{
    busy = busy_reads, acr = acr_value;
}
