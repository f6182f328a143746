// C harness around the Verilated overlay core, driven from Python through ctypes (fpga/sim.py):
// load memories through the core's load port, start, clock to done, read activation words.
#include <cstdint>
#include "verilated.h"
#include "Vvp_core.h"

struct Sim {
    VerilatedContext ctx;
    Vvp_core *top;
    uint64_t ticks;
};

static void tick(Sim *s) {
    s->top->clk = 0;
    s->top->eval();
    s->top->clk = 1;
    s->top->eval();
    s->ticks++;
}

extern "C" {

void *vp_sim_new(void) {
    Sim *s = new Sim();
    s->top = new Vvp_core(&s->ctx);
    s->ticks = 0;
    s->top->rst = 1;
    tick(s);
    tick(s);
    s->top->rst = 0;
    tick(s);
    return s;
}

void vp_sim_free(void *h) {
    Sim *s = (Sim *)h;
    s->top->final();
    delete s->top;
    delete s;
}

// entries of `per` 32-bit words each (first word = lowest bits), written from address `addr` on
void vp_sim_load(void *h, int sel, int addr, const uint32_t *words, int per, int entries) {
    Sim *s = (Sim *)h;
    s->top->ld_sel = sel;
    for (int e = 0; e < entries; e++) {
        for (int k = 0; k < per; k++) {
            s->top->ld_data = words[(size_t)e * per + k];
            s->top->ld_push = 1;
            tick(s);
        }
        s->top->ld_push = 0;
        s->top->ld_addr = addr + e;
        s->top->ld_commit = 1;
        tick(s);
        s->top->ld_commit = 0;
    }
}

// run n_layers descriptors; returns the core's cycle count, or -1 past max_ticks
int64_t vp_sim_run(void *h, int n_layers, int64_t max_ticks) {
    Sim *s = (Sim *)h;
    s->top->n_layers = n_layers;
    s->top->start = 1;
    tick(s);
    s->top->start = 0;
    for (int64_t t = 0; t < max_ticks; t++) {
        if (s->top->done && !s->top->busy) return (int64_t)s->top->cycles;
        tick(s);
    }
    return -1;
}

// n activation words from addr, `per` 32-bit words each
void vp_sim_read(void *h, int addr, int n, int per, uint32_t *out) {
    Sim *s = (Sim *)h;
    for (int i = 0; i < n; i++) {
        s->top->hr_addr = addr + i;
        tick(s);
        s->top->eval();
        for (int k = 0; k < per; k++) out[(size_t)i * per + k] = s->top->hr_data[k];
    }
}

uint64_t vp_sim_ticks(void *h) { return ((Sim *)h)->ticks; }
}
