/* Host target: the firmware as a POSIX process, for tests and emulation.
 *
 *   vp_fw_host --flash FILE [--stdio]
 *
 * UART: a pseudo-terminal whose slave path is printed as "PTY <path>" on stdout (or, with
 * --stdio, stdin/stdout themselves). Flash: FILE (created erased, 0xFF), mirrored in memory for
 * reads; every write or erase goes to the file with pwrite before it returns, so a kill -9 is a
 * power cut: the file keeps exactly the operations that completed. (A host OS crash is not
 * modelled: there is no fsync.) Fault injection for tests: VP_FW_POWER_CUT=N makes the N-th
 * storage operation after boot write only its first half, then exit at once (status 86).
 *
 * Built with -DFW_HOST_F4 (target host-stm32f4), the storage goes through the STM32F4 flash
 * driver (target/stm32f4/flash_f4.c) on a simulated flash interface (f4_flash_sim.c) in the
 * STM32F405 layout: the same erase/program path as the part, with every completed operation
 * written to FILE. A power cut there interrupts the driver half-way through the operation.
 */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../../fw.h"
#ifdef FW_HOST_F4
#include "../stm32f4/flash_f4.h"
void f4sim_attach(uint8_t *m, uint32_t base, uint32_t size, void (*cb)(uint32_t, uint32_t));
#else
#define FW_STORAGE_BASE 0u
#endif

static uint8_t store[FW_STORAGE_SIZE];
static int flash_fd = -1, in_fd = 0, out_fd = 1;
static long cut_at = -1, ops;
static uint8_t rxbuf[4096];
static size_t rx_pos, rx_len;

static void die(const char *what)
{
    fprintf(stderr, "vp_fw_host: %s: %s\n", what, strerror(errno));
    exit(2);
}

static int put(uint32_t off, const uint8_t *p, uint32_t n)
{
    while (n) {
        ssize_t w = pwrite(flash_fd, p, n, off);
        if (w <= 0) return -1;
        p += w, off += (uint32_t)w, n -= (uint32_t)w;
    }
    return 0;
}

#ifdef FW_HOST_F4
static void persist(uint32_t off, uint32_t n)
{
    if (put(off, store + off, n) != 0) die("flash file");
}

static int drv_write(uint32_t off, const uint8_t *p, uint32_t n)
{
    return f4_flash_program(FW_STORAGE_BASE + off, p, n);
}

static int drv_erase(uint32_t off, uint32_t n) { return f4_flash_erase(FW_STORAGE_BASE + off, n); }
#else
static int drv_write(uint32_t off, const uint8_t *p, uint32_t n)
{
    memcpy(store + off, p, n);
    return put(off, p, n);
}

static int drv_erase(uint32_t off, uint32_t n)
{
    static uint8_t ff[FW_STORAGE_SIZE];
    if (ff[0] != 0xFF) memset(ff, 0xFF, sizeof ff);
    memset(store + off, 0xFF, n);
    return put(off, ff, n);
}
#endif

/* Power cut injection: the N-th operation does only its first half, then the process ends. */
static void maybe_cut(uint32_t off, const uint8_t *p, uint32_t n)
{
    if (++ops != cut_at) return;
    if (p) {
        drv_write(off, p, n / 2u);
    } else { /* an erase cut short: half the range blank, the rest as it was */
        memset(store + off, 0xFF, n / 2u);
        put(off, store + off, n / 2u);
    }
    _exit(86);
}

int tgt_storage_write(uint32_t off, const uint8_t *p, uint32_t n)
{
    if (off > FW_STORAGE_SIZE || n > FW_STORAGE_SIZE - off) return -1;
    maybe_cut(off, p, n);
    return drv_write(off, p, n);
}

int tgt_storage_erase(uint32_t off, uint32_t n)
{
    if (off > FW_STORAGE_SIZE || n > FW_STORAGE_SIZE - off) return -1;
    maybe_cut(off, NULL, n);
    return drv_erase(off, n);
}

const uint8_t *tgt_storage(void) { return store; }

int tgt_uart_getc(void)
{
    if (rx_pos == rx_len) {
        ssize_t n = read(in_fd, rxbuf, sizeof rxbuf);
        if (n == 0 && in_fd == 0) exit(0); /* --stdio and the peer closed: stop */
        if (n <= 0) return -1;
        rx_pos = 0, rx_len = (size_t)n;
    }
    return rxbuf[rx_pos++];
}

void tgt_uart_write(const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(out_fd, p, n);
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pf = {out_fd, POLLOUT, 0};
            poll(&pf, 1, 100);
            continue;
        }
        if (w <= 0) return; /* nobody listening: the bytes are lost, as on a real UART */
        p += w, n -= (size_t)w;
    }
}

uint64_t tgt_ticks(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

uint32_t tgt_tick_hz(void) { return 1000000u; }
uint32_t tgt_millis(void) { return (uint32_t)(tgt_ticks() / 1000u); }

void tgt_idle(void)
{
    struct pollfd pf = {in_fd, POLLIN, 0};
    poll(&pf, 1, 2);
}

static void open_flash(const char *path)
{
    off_t size;
    flash_fd = open(path, O_RDWR | O_CREAT, 0644);
    if (flash_fd < 0) die(path);
    size = lseek(flash_fd, 0, SEEK_END);
    memset(store, 0xFF, sizeof store);
    if (size > 0 && pread(flash_fd, store, size < (off_t)sizeof store ? (size_t)size : sizeof store,
                          0) < 0)
        die(path);
    if (size < (off_t)sizeof store && put(0, store, sizeof store) != 0) die(path);
}

static void open_pty(void)
{
    struct termios t;
    int m = posix_openpt(O_RDWR | O_NOCTTY), s;
    if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0) die("pty");
    s = open(ptsname(m), O_RDWR | O_NOCTTY); /* kept open: reads never see EIO between clients */
    if (s < 0 || tcgetattr(s, &t) != 0) die("pty slave");
    cfmakeraw(&t);
    tcsetattr(s, TCSANOW, &t);
    fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
    in_fd = out_fd = m;
    printf("PTY %s\n", ptsname(m));
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *flash = NULL, *cut = getenv("VP_FW_POWER_CUT");
    int i, stdio_mode = 0;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--flash") && i + 1 < argc) flash = argv[++i];
        else if (!strcmp(argv[i], "--stdio")) stdio_mode = 1;
        else {
            fprintf(stderr, "usage: %s --flash FILE [--stdio]\n", argv[0]);
            return 2;
        }
    }
    if (!flash) {
        fprintf(stderr, "usage: %s --flash FILE [--stdio]\n", argv[0]);
        return 2;
    }
    open_flash(flash);
#ifdef FW_HOST_F4
    f4sim_attach(store, FW_STORAGE_BASE, FW_STORAGE_SIZE, persist);
#endif
    if (stdio_mode) fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    else open_pty();
    if (cut && *cut) cut_at = atol(cut) + 2; /* + the boot's own metadata erase and write */
    fw_run();
    return 0;
}
