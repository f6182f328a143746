/* SysTick time on a Cortex-M target: the cycles since boot, from the 1 ms interrupt count and the
 * down-counter. Shared by every Arm target (the registers are architectural, ARMv7-M/ARMv8-M). */
#ifndef VP_CORTEXM_SYSTICK_H
#define VP_CORTEXM_SYSTICK_H

#include <stdint.h>

#define CORTEXM_SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define CORTEXM_SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)

/* ``*ms`` is the interrupt's millisecond count, ``per_ms`` the SysTick reload + 1. A wrap whose
 * interrupt is still pending (ICSR.PENDSTSET) is counted, so the result never goes backwards. */
static inline uint64_t cortexm_systick_ticks(volatile uint32_t *ms, uint32_t per_ms)
{
    uint32_t m, v;
    __asm__ volatile("cpsid i" ::: "memory");
    m = *ms;
    v = CORTEXM_SYST_CVR;
    if (CORTEXM_SCB_ICSR & (1u << 26)) { /* wrapped, interrupt not taken yet */
        v = CORTEXM_SYST_CVR;
        m++;
    }
    __asm__ volatile("cpsie i" ::: "memory");
    return (uint64_t)m * per_ms + (per_ms - 1u - v);
}

#endif
