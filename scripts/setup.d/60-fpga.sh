#!/usr/bin/env bash
# The FPGA overlay (fpga/): Verilator simulates the exported Verilog cycle by cycle, Yosys
# reports its resources (`vp-edge overlay synth`), Icarus is the second simulator. Their tests
# skip, saying why, when a binary is missing, so a failed install here only warns.
set -uo pipefail
missing=()
command -v verilator >/dev/null || missing+=(verilator)
command -v yosys >/dev/null || missing+=(yosys)
command -v iverilog >/dev/null || missing+=(iverilog)
[ ${#missing[@]} -eq 0 ] && exit 0
. "$(dirname "$0")/../apt.sh"
apt_install "${missing[@]}" || echo "vp-edge setup: FPGA simulation / synthesis tests will be skipped." >&2
exit 0
