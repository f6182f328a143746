/* Cortex-M target on QEMU's Arm FPGA images (mps2-an386 Cortex-M4, mps2-an500 Cortex-M7,
 * mps2-an505 Cortex-M33): vector table, reset, CMSDK UART0, SysTick, storage. The UART base and
 * the CPU clock come from firmware_bridge/firmware/targets.py (FW_UART_BASE, FW_SYSCLK_HZ); the
 * defaults are mps2-an386's.
 *
 * UART0 (0x40004000) is polled; QEMU holds input back while the 1-byte RX buffer is full, so
 * nothing is lost (real hardware would want an RX interrupt and a ring buffer). SysTick runs
 * from the 25 MHz CPU clock with a 1 ms interrupt; tgt_ticks() counts its cycles, so RESULT's
 * compute_us is virtual time: under `-icount shift=0` (1 instruction = 1 ns) the instruction
 * count of an inference is compute_us x 1000 (resolution 40 instructions, reported in us).
 *
 * Storage: the flash region at 0x00030000 (memory-mapped, the engine runs the model in place)
 * is backed by a host file through ARM semihosting (QEMU -semihosting-config
 * enable=on,target=native,arg=vpfw,arg=FILE): read whole at reset, and every write or erase
 * goes to the file (SYS_SEEK + SYS_WRITE) before it returns. Killing QEMU is the power cut: the
 * file keeps the operations that completed. Without a file the board runs from RAM only.
 */
#include <string.h>

#include "../../fw.h"
#include "../cortexm_systick.h"

#define REG(a) (*(volatile uint32_t *)(a))
#ifndef FW_UART_BASE
#define FW_UART_BASE 0x40004000u
#endif
#ifndef FW_SYSCLK_HZ
#define FW_SYSCLK_HZ 25000000u
#endif
#define UART0 FW_UART_BASE
#define UART_DATA REG(UART0 + 0x00u)
#define UART_STATE REG(UART0 + 0x04u)
#define UART_CTRL REG(UART0 + 0x08u)
#define UART_BAUDDIV REG(UART0 + 0x10u)
#define SYST_CSR REG(0xE000E010u)
#define SYST_RVR REG(0xE000E014u)
#define SYST_CVR REG(0xE000E018u)
#define SCB_ICSR REG(0xE000ED04u)
#define SYSCLK_HZ FW_SYSCLK_HZ
#define TICKS_PER_MS (SYSCLK_HZ / 1000u)

enum { SYS_OPEN = 0x01, SYS_WRITE0 = 0x04, SYS_WRITE = 0x05, SYS_READ = 0x06, SYS_SEEK = 0x0A,
       SYS_FLEN = 0x0C, SYS_GET_CMDLINE = 0x15 };

extern uint8_t __storage_start[];
extern uint32_t _estack, _sidata, _sdata, _edata, _sbss, _ebss;
static volatile uint32_t ms;
static int store_fd = -1;

static int semi(int op, void *arg)
{
    register int r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static void say(const char *s) { semi(SYS_WRITE0, (void *)s); }

static int file_put(uint32_t off, uint32_t n)
{
    uint32_t seek[2], wr[3];
    if (store_fd < 0) return 0; /* RAM only */
    seek[0] = (uint32_t)store_fd, seek[1] = off;
    if (semi(SYS_SEEK, seek) != 0) return -1;
    wr[0] = (uint32_t)store_fd, wr[1] = (uint32_t)(__storage_start + off), wr[2] = n;
    return semi(SYS_WRITE, wr) == 0 ? 0 : -1; /* returns the bytes NOT written */
}

int tgt_storage_write(uint32_t off, const uint8_t *p, uint32_t n)
{
    if (off > FW_STORAGE_SIZE || n > FW_STORAGE_SIZE - off) return -1;
    memcpy(__storage_start + off, p, n);
    return file_put(off, n);
}

int tgt_storage_erase(uint32_t off, uint32_t n)
{
    if (off > FW_STORAGE_SIZE || n > FW_STORAGE_SIZE - off) return -1;
    memset(__storage_start + off, 0xFF, n);
    return file_put(off, n);
}

const uint8_t *tgt_storage(void) { return __storage_start; }

static void storage_init(void)
{
    static char cmd[256];
    uint32_t args[3];
    char *path;
    int len;
    memset(__storage_start, 0xFF, FW_STORAGE_SIZE);
    args[0] = (uint32_t)cmd, args[1] = sizeof cmd - 1u;
    if (semi(SYS_GET_CMDLINE, args) != 0) return;
    cmd[args[1] < sizeof cmd ? args[1] : sizeof cmd - 1u] = 0;
    path = strrchr(cmd, ' '); /* "vpfw FILE": the file is the last word */
    if (!path || !path[1]) {
        say("vpfw: no storage file on the semihosting command line; RAM only\n");
        return;
    }
    path++;
    args[0] = (uint32_t)path, args[1] = 3u /* "r+b" */, args[2] = strlen(path);
    store_fd = semi(SYS_OPEN, args);
    if (store_fd < 0) {
        say("vpfw: cannot open the storage file; RAM only\n");
        return;
    }
    args[0] = (uint32_t)store_fd;
    len = semi(SYS_FLEN, args);
    if (len > (int)FW_STORAGE_SIZE) len = (int)FW_STORAGE_SIZE;
    if (len > 0) {
        args[0] = (uint32_t)store_fd, args[1] = (uint32_t)__storage_start, args[2] = (uint32_t)len;
        semi(SYS_READ, args);
    }
}

int tgt_uart_getc(void) { return (UART_STATE & 2u) ? (int)(UART_DATA & 0xFFu) : -1; }

void tgt_uart_write(const uint8_t *p, size_t n)
{
    while (n--) {
        while (UART_STATE & 1u) {
        }
        UART_DATA = *p++;
    }
}

uint64_t tgt_ticks(void) { return cortexm_systick_ticks(&ms, TICKS_PER_MS); }

uint32_t tgt_tick_hz(void) { return SYSCLK_HZ; }
uint32_t tgt_millis(void) { return ms; }
void tgt_idle(void) {}

void SysTick_Handler(void) { ms++; }

static void Default_Handler(void)
{
    for (;;) {
    }
}

void Reset_Handler(void)
{
    uint32_t *src = &_sidata, *dst;
    for (dst = &_sdata; dst < &_edata;) *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss;) *dst++ = 0;
    UART_BAUDDIV = 16u;
    UART_CTRL = 3u; /* TX and RX enabled */
    SYST_RVR = TICKS_PER_MS - 1u;
    SYST_CVR = 0;
    SYST_CSR = 7u; /* CPU clock, interrupt, enable */
    storage_init();
    fw_run();
}

typedef void (*vector_t)(void);
__attribute__((section(".vectors"), used)) static const vector_t vectors[16] = {
    (vector_t)(uintptr_t)&_estack, Reset_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, 0, 0, 0, 0, Default_Handler,
    Default_Handler, 0, Default_Handler, SysTick_Handler,
};
