#!/usr/bin/env bash
# .venv-pynq: a second virtual environment for the PYNQ board adapter and its tests.
# pynq 4.0 pins numpy<2 and protobuf<6, so it cannot live next to TensorFlow in .venv.
# It gets vp-edge's runtime code without dependencies (no TensorFlow, no LiteRT), numpy<2,
# pyserial and pytest. A stamp holding a hash of this script and the package metadata makes
# a second run a no-op; delete .venv-pynq to rebuild.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/.venv-pynq"
stamp="$venv/.vp-edge-pynq-installed"
py="${PYTHON:-python3}"
want="$(cat "$0" "$root/pyproject.toml" "$root/setup.py" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; then
  exit 0
fi
start=$SECONDS
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "vp-edge setup: building $venv (pynq 4.0, numpy<2; about a minute) ..." >&2
step() {  # run quietly; show pip's output only when it fails
  "$@" >"$log" 2>&1 || { cat "$log" >&2; echo "vp-edge setup: $venv failed: $*" >&2; exit 1; }
}
[ -x "$venv/bin/python" ] || step "$py" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet)
step "${pip[@]}" --upgrade pip
step "${pip[@]}" "pynq==4.0.0" "numpy>=1.26,<2" "pyserial==3.5" "pytest>=8,<10" "paho-mqtt>=2.1,<3"
# the runtime part of vp-edge (builds the C engine into firmware_bridge/engine/), no dependencies
step "${pip[@]}" --no-deps -e "$root"
step "$venv/bin/python" -c "import pynq, numpy, boards.pynq, firmware_bridge.engine, vp_edge.cli"
echo "$want" > "$stamp"
echo "vp-edge setup: $venv ready in $((SECONDS - start)) s" >&2
