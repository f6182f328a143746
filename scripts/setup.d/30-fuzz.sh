#!/usr/bin/env bash
# firmware_bridge C tests: gcc builds the cross-check harness, clang (libFuzzer) the fuzz target,
# arm-none-eabi-gcc checks the library builds for Cortex-M4. Their tests skip, saying why, when a
# compiler is missing, so a failed install here only warns.
set -uo pipefail
missing=()
command -v gcc >/dev/null || missing+=(gcc)
command -v clang >/dev/null || command -v clang-14 >/dev/null || missing+=(clang)
command -v arm-none-eabi-gcc >/dev/null || missing+=(gcc-arm-none-eabi)
[ ${#missing[@]} -eq 0 ] && exit 0
. "$(dirname "$0")/../apt.sh"
apt_install "${missing[@]}" || echo "vp-edge setup: firmware_bridge C tests will be skipped." >&2
exit 0
