// C harness around the Verilated overlay core, driven from Python through ctypes (fpga/sim.py).
// The core's AXI master (m_axi_gmem, 64-bit) is answered by a DDR model: a byte buffer the
// caller owns at a physical base address. Reads: a burst's first beat `latency` cycles after
// its address is taken, then one beat a cycle, bursts in order (the master keeps at most 4 in
// flight); writes: address, then a beat a cycle, the response `latency` cycles after the last.
// One beat a cycle at 100 MHz is 800 MB/s, under UG585's ~1,200 MB/s for one HP port.
#include <cstdint>
#include <cstring>
#include <deque>
#include "verilated.h"
#include "Vvp_core.h"

struct Burst {
    uint64_t ready_at, addr;
    uint32_t left;
};

struct Sim {
    VerilatedContext ctx;
    Vvp_core *top;
    uint64_t ticks;
    uint8_t *mem;
    uint64_t base, size;
    int latency;
    int fault;  // an access outside the buffer (a board would raise SLVERR or hang)
    std::deque<Burst> reads;
    bool waddr_valid;
    uint64_t waddr;
    std::deque<uint64_t> bresp;
};

static uint8_t *at(Sim *s, uint64_t addr) {
    if (addr < s->base || addr + 8 > s->base + s->size) {
        s->fault = 1;
        return nullptr;
    }
    return s->mem + (addr - s->base);
}

// the slave side for this cycle: the master's outputs do not depend combinationally on these
static void ddr(Sim *s) {
    Vvp_core *t = s->top;
    bool head = !s->reads.empty() && s->reads.front().ready_at <= s->ticks;
    t->m_axi_gmem_ARREADY = 1;
    t->m_axi_gmem_AWREADY = !s->waddr_valid;
    t->m_axi_gmem_WREADY = s->waddr_valid;
    t->m_axi_gmem_RVALID = head;
    t->m_axi_gmem_RRESP = 0;
    t->m_axi_gmem_BRESP = 0;
    if (head) {
        Burst &b = s->reads.front();
        uint8_t *p = at(s, b.addr);
        uint64_t v = 0;
        if (p) memcpy(&v, p, 8);
        t->m_axi_gmem_RDATA = v;
        t->m_axi_gmem_RLAST = b.left == 1;
    }
    bool bvalid = !s->bresp.empty() && s->bresp.front() <= s->ticks;
    t->m_axi_gmem_BVALID = bvalid;
    if (t->m_axi_gmem_ARVALID)
        s->reads.push_back({s->ticks + s->latency, t->m_axi_gmem_ARADDR,
                            (uint32_t)t->m_axi_gmem_ARLEN + 1u});
    if (head && t->m_axi_gmem_RREADY) {
        Burst &b = s->reads.front();
        b.addr += 8;
        if (--b.left == 0) s->reads.pop_front();
    }
    if (!s->waddr_valid && t->m_axi_gmem_AWVALID) {
        s->waddr_valid = true;
        s->waddr = t->m_axi_gmem_AWADDR;
    } else if (s->waddr_valid && t->m_axi_gmem_WVALID) {
        uint64_t v = t->m_axi_gmem_WDATA;
        uint8_t *p = at(s, s->waddr);
        if (p) memcpy(p, &v, 8);
        s->waddr += 8;
        if (t->m_axi_gmem_WLAST) {
            s->waddr_valid = false;
            s->bresp.push_back(s->ticks + s->latency);
        }
    }
    if (bvalid && t->m_axi_gmem_BREADY) s->bresp.pop_front();
}

static void tick(Sim *s) {
    s->top->clk = 0;
    s->top->eval();
    ddr(s);
    s->top->clk = 1;
    s->top->eval();
    s->ticks++;
}

extern "C" {

void *vp_sim_new(int latency) {
    Sim *s = new Sim();
    s->top = new Vvp_core(&s->ctx);
    s->ticks = 0;
    s->mem = nullptr;
    s->base = s->size = 0;
    s->latency = latency;
    s->fault = 0;
    s->waddr_valid = false;
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

// the DDR the master reads and writes: `size` bytes the caller keeps alive, at physical `base`
void vp_sim_attach(void *h, uint8_t *mem, uint64_t base, uint64_t size) {
    Sim *s = (Sim *)h;
    s->mem = mem;
    s->base = base;
    s->size = size;
}

// one run with the arguments in fpga/rtl_ports.py ARGS order; returns the core's cycle count,
// -1 past max_ticks, -2 after an access outside the DDR buffer
int64_t vp_sim_run(void *h, const uint32_t *a, int64_t max_ticks) {
    Sim *s = (Sim *)h;
    Vvp_core *t = s->top;
    t->n_layers = a[0];
    t->prog_addr = a[1];
    t->prog_words = a[2];
    t->wgt_addr = a[3];
    t->wgt_words = a[4];
    t->qnt_addr = a[5];
    t->qnt_words = a[6];
    t->in_addr = a[7];
    t->in_words = a[8];
    t->in_base = a[9];
    t->out_addr = a[10];
    t->out_words = a[11];
    t->out_base = a[12];
    s->fault = 0;
    t->start = 1;
    tick(s);
    t->start = 0;
    for (int64_t i = 0; i < max_ticks; i++) {
        if (t->done && !t->busy) return s->fault ? -2 : (int64_t)t->cycles;
        tick(s);
    }
    return -1;
}

uint32_t vp_sim_move_cycles(void *h) { return ((Sim *)h)->top->move_cycles; }

uint64_t vp_sim_ticks(void *h) { return ((Sim *)h)->ticks; }
}
