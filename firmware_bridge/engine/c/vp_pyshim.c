/*
 * Host-only shim so the engine can be built by setuptools as an importable extension file.
 * Python never imports it as a module (firmware_bridge/engine/__init__.py loads it with ctypes); the
 * init function only exists because some platforms require it in an extension's export table.
 * Not part of the firmware: do not compile this file for a board.
 */
#include "vp_engine.h"

void *PyInit__vp_engine(void);
void *PyInit__vp_engine(void) { return 0; }

/* sizeof(vp_model_info) lets the binding check that its ctypes mirror matches. */
uint32_t vp_engine_info_size(void);
uint32_t vp_engine_info_size(void) { return (uint32_t)sizeof(vp_model_info); }
