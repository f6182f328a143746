/* Unit harness for the STM32F4 flash driver (firmware_bridge/firmware/c/target/stm32f4/flash_f4.c)
 * on the simulated flash interface (target/host/f4_flash_sim.c), STM32F405 layout.
 *
 *   f4_flash_harness OP ...     OP: erase ADDR N | program ADDR HEX | busy N | dcache
 *
 * Operations run in order on one simulated part (storage erased to 0xFF at start); the
 * simulator's trace of every register access goes to stderr, one line per access, and each
 * operation prints "rc=R violations=V" and the stored bytes it touched on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flash_f4.h"

#define BASE 0x08004000u
#define SIZE 0xDC000u

extern int f4sim_trace, f4sim_violations, f4sim_fatal;
void f4sim_attach(uint8_t *m, uint32_t base, uint32_t size, void (*cb)(uint32_t, uint32_t));
void f4sim_set(uint32_t busy_reads, uint32_t acr_value);

static uint8_t mem[SIZE];

static void dump(uint32_t addr, uint32_t n)
{
    uint32_t i;
    printf("bytes");
    for (i = 0; i < n && i < 64u; i++) printf(" %02x", mem[addr - BASE + i]);
    printf("\n");
}

int main(int argc, char **argv)
{
    int i, rc;
    memset(mem, 0xFF, sizeof mem);
    f4sim_attach(mem, BASE, SIZE, NULL);
    f4sim_trace = 1, f4sim_fatal = 0;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "erase") && i + 2 < argc) {
            uint32_t a = (uint32_t)strtoul(argv[i + 1], NULL, 0);
            uint32_t n = (uint32_t)strtoul(argv[i + 2], NULL, 0);
            fprintf(stderr, "OP erase %08x %u\n", (unsigned)a, (unsigned)n);
            rc = f4_flash_erase(a, n);
            printf("rc=%d violations=%d\n", rc, f4sim_violations);
            i += 2;
        } else if (!strcmp(argv[i], "program") && i + 2 < argc) {
            uint32_t a = (uint32_t)strtoul(argv[i + 1], NULL, 0), n = 0;
            uint8_t buf[256];
            const char *h = argv[i + 2];
            while (h[0] && h[1] && n < sizeof buf) {
                char b[3] = {h[0], h[1], 0};
                buf[n++] = (uint8_t)strtoul(b, NULL, 16);
                h += 2;
            }
            fprintf(stderr, "OP program %08x %u\n", (unsigned)a, (unsigned)n);
            rc = f4_flash_program(a, buf, n);
            printf("rc=%d violations=%d\n", rc, f4sim_violations);
            if (a >= BASE && a - BASE < SIZE) dump(a, n);
            i += 2;
        } else if (!strcmp(argv[i], "busy") && i + 1 < argc) {
            f4sim_set((uint32_t)strtoul(argv[++i], NULL, 0), 0u);
        } else if (!strcmp(argv[i], "dcache")) {
            f4sim_set(0u, F4_ACR_DCEN | 5u);
        } else {
            fprintf(stderr, "usage: %s (erase ADDR N | program ADDR HEX | busy N | dcache)...\n",
                    argv[0]);
            return 2;
        }
    }
    return 0;
}
