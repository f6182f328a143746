/* STM32F4 target on its own registers (RM0090 for the F405/407, RM0390 for the F446; no vendor
 * library): vector table and reset, the clock tree to the part's rated speed, a USART with an
 * interrupt-driven receive ring buffer, SysTick for time, the embedded flash (flash_f4.c) for
 * the provisioning record, the two metadata copies and the A/B model slots.
 *
 * Build-time choices come from firmware_bridge/firmware/targets.py: F4_USART (1: USART1 on
 * PA9/PA10, the STM32F405 and QEMU netduinoplus2's first serial port; 2: USART2 on PA2/PA3, the NUCLEO's
 * ST-LINK virtual COM port), the PLL (F4_PLLM/N/P/Q from the 16 MHz HSI), F4_OVERDRIVE (the
 * F446 needs over-drive for 180 MHz), F4_FLASH_WS and FW_SYSCLK_HZ.
 *
 * QEMU 7.2 (netduinoplus2) models neither the RCC nor the flash interface: both read as zero.
 * HSIRDY is set on every real part out of reset, so a zero RCC_CR means "no RCC here": the PLL
 * is not touched and the firmware takes the rated clock, which is the rate QEMU runs SysTick at
 * (168 MHz). On a real part whose PLL does not lock, the firmware stays on the 16 MHz HSI and
 * sets its clock to that. Flash writes in QEMU change nothing, so they fail their read-back
 * (the driver says so with an error), and the storage is a preloaded image (docs/firmware.md).
 */
#include <string.h>

#include "../../fw.h"
#include "../cortexm_systick.h"
#include "flash_f4.h"

#define REG(a) (*(volatile uint32_t *)(a))
/* RCC (RM0090 7.3, RM0390 6.3) */
#define RCC 0x40023800u
#define RCC_CR REG(RCC + 0x00u)
#define RCC_PLLCFGR REG(RCC + 0x04u)
#define RCC_CFGR REG(RCC + 0x08u)
#define RCC_AHB1ENR REG(RCC + 0x30u)
#define RCC_APB1ENR REG(RCC + 0x40u)
#define RCC_APB2ENR REG(RCC + 0x44u)
#define CR_HSIRDY (1u << 1)
#define CR_PLLON (1u << 24)
#define CR_PLLRDY (1u << 25)
/* PWR (RM0090 5.4, RM0390 5.4) */
#define PWR_CR REG(0x40007000u)
#define PWR_CSR REG(0x40007004u)
/* GPIOA (RM0090 8.4) */
#define GPIOA 0x40020000u
#define GPIOA_MODER REG(GPIOA + 0x00u)
#define GPIOA_PUPDR REG(GPIOA + 0x0Cu)
#define GPIOA_AFRL REG(GPIOA + 0x20u)
#define GPIOA_AFRH REG(GPIOA + 0x24u)
/* USART (RM0090 30.6) */
#if F4_USART == 1
#define USART 0x40011000u
#define USART_IRQ 37u
#define TX_PIN 9
#define RX_PIN 10
#else
#define USART 0x40004400u
#define USART_IRQ 38u
#define TX_PIN 2
#define RX_PIN 3
#endif
#define USART_SR REG(USART + 0x00u)
#define USART_DR REG(USART + 0x04u)
#define USART_BRR REG(USART + 0x08u)
#define USART_CR1 REG(USART + 0x0Cu)
#define SR_ORE (1u << 3)
#define SR_RXNE (1u << 5)
#define SR_TXE (1u << 7)
#define CR1_RE (1u << 2)
#define CR1_TE (1u << 3)
#define CR1_RXNEIE (1u << 5)
#define CR1_UE (1u << 13)
#define BAUD 115200u
/* Cortex-M4 core */
#define SYST_CSR REG(0xE000E010u)
#define SYST_RVR REG(0xE000E014u)
#define SYST_CVR REG(0xE000E018u)
#define SCB_ICSR REG(0xE000ED04u)
#define NVIC_ISER(n) REG(0xE000E100u + 4u * (n))

#define SPINS 1000000u
#define RX_SIZE 2048u /* power of two; 178 ms of input at 115200 baud */

extern uint32_t _estack, _sidata, _sdata, _edata, _sbss, _ebss;
static volatile uint32_t ms, rx_head, rx_tail, rx_overflow;
static uint8_t rx_buf[RX_SIZE];
static uint32_t sysclk = 16000000u;

static int wait_bits(volatile uint32_t *r, uint32_t mask, uint32_t want)
{
    uint32_t i;
    for (i = 0; i < SPINS; i++)
        if ((*r & mask) == want) return 0;
    return -1;
}

/* HSI 16 MHz -> PLL (M, N, P) -> SYSCLK; AHB /1, APB1 /4, APB2 /2 (F405: 42/84 MHz, F446:
 * 45/90 MHz, both at their maxima). Order as RM0390 5.1.4 asks for over-drive: PLL on, ODEN,
 * ODSWEN, flash wait states, then the switch. Returns the clock actually running. */
static uint32_t clock_init(void)
{
    if (!(RCC_CR & CR_HSIRDY)) return FW_SYSCLK_HZ; /* no RCC model (QEMU): its fixed clock */
    RCC_APB1ENR |= 1u << 28;                         /* PWREN */
    (void)RCC_APB1ENR; /* erratum: wait after a clock enable before using the peripheral */
    PWR_CR |= (F4_OVERDRIVE ? 3u : 1u) << 14; /* VOS scale 1 (F405: bit 14; F446: 15:14) */
    RCC_PLLCFGR = F4_PLLM | F4_PLLN << 6 | ((F4_PLLP / 2u) - 1u) << 16 | F4_PLLQ << 24 |
                  (RCC_PLLCFGR & (7u << 28)); /* source HSI (bit 22 = 0); keep F446 PLLR */
    RCC_CR |= CR_PLLON;
    if (wait_bits(&RCC_CR, CR_PLLRDY, CR_PLLRDY) != 0) return 16000000u; /* stay on HSI */
#if F4_OVERDRIVE
    PWR_CR |= 1u << 16; /* ODEN */
    if (wait_bits(&PWR_CSR, 1u << 16, 1u << 16) != 0) return 16000000u;
    PWR_CR |= 1u << 17; /* ODSWEN */
    if (wait_bits(&PWR_CSR, 1u << 17, 1u << 17) != 0) return 16000000u;
#endif
    /* wait states first (RM0090 3.5.1), prefetch and both caches on */
    REG(F4_FLASH_IF + F4_ACR) = F4_FLASH_WS | 1u << 8 | 1u << 9 | F4_ACR_DCEN;
    if ((REG(F4_FLASH_IF + F4_ACR) & 15u) != F4_FLASH_WS) return 16000000u;
    RCC_CFGR = (RCC_CFGR & ~0xFCF3u) | 5u << 10 | 4u << 13 | 2u; /* PPRE1 /4, PPRE2 /2, SW PLL */
    if (wait_bits(&RCC_CFGR, 3u << 2, 2u << 2) != 0) return 16000000u;
    return 16000000u / F4_PLLM * F4_PLLN / F4_PLLP;
}

static void uart_init(void)
{
    uint32_t pclk = F4_USART == 1 ? sysclk / 2u : sysclk / 4u;
    if (sysclk == 16000000u) pclk = sysclk; /* prescalers untouched on the HSI */
    RCC_AHB1ENR |= 1u << 0; /* GPIOAEN */
    if (F4_USART == 1) RCC_APB2ENR |= 1u << 4; /* USART1EN */
    else RCC_APB1ENR |= 1u << 17;                /* USART2EN */
    (void)RCC_AHB1ENR, (void)RCC_APB1ENR, (void)RCC_APB2ENR; /* clock-enable erratum delay */
    GPIOA_MODER = (GPIOA_MODER & ~(3u << 2 * TX_PIN | 3u << 2 * RX_PIN)) |
                  2u << 2 * TX_PIN | 2u << 2 * RX_PIN; /* alternate function */
    GPIOA_PUPDR = (GPIOA_PUPDR & ~(3u << 2 * RX_PIN)) | 1u << 2 * RX_PIN; /* RX pull-up */
#if TX_PIN >= 8 /* AF7 on TX and RX */
    GPIOA_AFRH = (GPIOA_AFRH & ~(0xFFu << 4 * (TX_PIN - 8u))) | 0x77u << 4 * (TX_PIN - 8u);
#else
    GPIOA_AFRL = (GPIOA_AFRL & ~(0xFFu << 4 * TX_PIN)) | 0x77u << 4 * TX_PIN;
#endif
    USART_BRR = (pclk + BAUD / 2u) / BAUD; /* oversampling 16: BRR = fck / baud */
    USART_CR1 = CR1_UE | CR1_TE | CR1_RE | CR1_RXNEIE;
    NVIC_ISER(USART_IRQ / 32u) = 1u << (USART_IRQ % 32u);
}

/* RX interrupt: drain the data register into the ring (reading SR then DR also clears ORE). */
static void usart_irq(void)
{
    uint32_t sr;
    while ((sr = USART_SR) & (SR_RXNE | SR_ORE)) {
        uint8_t b = (uint8_t)USART_DR;
        uint32_t next = (rx_head + 1u) & (RX_SIZE - 1u);
        if (!(sr & SR_RXNE)) continue;
        if (next == rx_tail) {
            rx_overflow++;
            continue;
        }
        rx_buf[rx_head] = b;
        rx_head = next;
    }
}

int tgt_uart_getc(void)
{
    int c;
    if (rx_tail == rx_head) return -1;
    c = rx_buf[rx_tail];
    rx_tail = (rx_tail + 1u) & (RX_SIZE - 1u);
    return c;
}

void tgt_uart_write(const uint8_t *p, size_t n)
{
    while (n--) {
        while (!(USART_SR & SR_TXE)) {
        }
        USART_DR = *p++;
    }
}

uint64_t tgt_ticks(void) { return cortexm_systick_ticks(&ms, sysclk / 1000u); }

uint32_t tgt_tick_hz(void) { return sysclk; }
uint32_t tgt_millis(void) { return ms; }
void tgt_idle(void) { __asm__ volatile("wfi"); } /* SysTick or the USART wakes it */

const uint8_t *tgt_storage(void) { return (const uint8_t *)FW_STORAGE_BASE; }

int tgt_storage_write(uint32_t off, const uint8_t *p, uint32_t n)
{
    if (off > FW_STORAGE_SIZE || n > FW_STORAGE_SIZE - off) return -1;
    return f4_flash_program(FW_STORAGE_BASE + off, p, n);
}

int tgt_storage_erase(uint32_t off, uint32_t n)
{
    if (off > FW_STORAGE_SIZE || n > FW_STORAGE_SIZE - off) return -1;
    return f4_flash_erase(FW_STORAGE_BASE + off, n);
}

static void SysTick_Handler(void) { ms++; }

static void Default_Handler(void)
{
    for (;;) {
    }
}

void Reset_Handler(void);

void Reset_Handler(void)
{
    uint32_t *src = &_sidata, *dst;
    for (dst = &_sdata; dst < &_edata;) *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss;) *dst++ = 0;
    sysclk = clock_init();
    SYST_RVR = sysclk / 1000u - 1u;
    SYST_CVR = 0;
    SYST_CSR = 7u; /* processor clock, interrupt, enable */
    uart_init();
    fw_run();
}

typedef void (*vector_t)(void);
/* 16 core exceptions + the 97 interrupts of the F446 (the F405 has 82): only the USART's is
 * enabled, the others are never taken. */
__attribute__((section(".vectors"), used)) static const vector_t vectors[16 + 97] = {
    [0] = (vector_t)(uintptr_t)&_estack,
    [1] = Reset_Handler,
    [2] = Default_Handler,  /* NMI */
    [3] = Default_Handler,  /* HardFault */
    [4] = Default_Handler,  /* MemManage */
    [5] = Default_Handler,  /* BusFault */
    [6] = Default_Handler,  /* UsageFault */
    [11] = Default_Handler, /* SVCall */
    [14] = Default_Handler, /* PendSV */
    [15] = SysTick_Handler,
    [16 + USART_IRQ] = usart_irq,
};
