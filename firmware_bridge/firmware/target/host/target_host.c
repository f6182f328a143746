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

static void maybe_cut(uint32_t off, const uint8_t *p, uint32_t n)
{
    if (++ops != cut_at) return;
    memcpy(store + off, p, n / 2u);
    put(off, p, n / 2u);
    _exit(86); /* power cut half-way through this operation */
}

int tgt_storage_write(uint32_t off, const uint8_t *p, uint32_t n)
{
    if (off > FW_STORAGE_SIZE || n > FW_STORAGE_SIZE - off) return -1;
    maybe_cut(off, p, n);
    memcpy(store + off, p, n);
    return put(off, p, n);
}

int tgt_storage_erase(uint32_t off, uint32_t n)
{
    static uint8_t ff[FW_STORAGE_SIZE];
    if (off > FW_STORAGE_SIZE || n > FW_STORAGE_SIZE - off) return -1;
    if (ff[0] != 0xFF) memset(ff, 0xFF, sizeof ff);
    maybe_cut(off, ff, n);
    memset(store + off, 0xFF, n);
    return put(off, ff, n);
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
    if (stdio_mode) fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    else open_pty();
    if (cut && *cut) cut_at = atol(cut) + 2; /* + the boot's own metadata erase and write */
    fw_run();
    return 0;
}
