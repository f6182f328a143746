#!/usr/bin/env bash
# Board firmware toolchains (tests/firmware): gcc-arm-none-eabi + newlib build the Cortex-M4
# image, qemu-system-arm runs it (mps2-an386), clang builds the fuzz targets. Installed only when
# missing; the firmware tests skip, saying why, when a tool is absent, so a failed install warns.
set -uo pipefail
missing=()
command -v arm-none-eabi-gcc >/dev/null || missing+=(gcc-arm-none-eabi)
if ! command -v arm-none-eabi-gcc >/dev/null ||
   [ "$(arm-none-eabi-gcc -print-file-name=libc_nano.a)" = libc_nano.a ]; then
  missing+=(libnewlib-arm-none-eabi)
fi
command -v qemu-system-arm >/dev/null || missing+=(qemu-system-arm)
command -v clang >/dev/null || command -v clang-14 >/dev/null || missing+=(clang)
[ ${#missing[@]} -eq 0 ] && exit 0
. "$(dirname "$0")/../apt.sh"
apt_install "${missing[@]}" || echo "vp-edge setup: firmware (QEMU) tests will be skipped." >&2
exit 0
