#!/usr/bin/env bash
# Fleet tests and `vp-edge demo --fleet`: Mosquitto (the MQTT broker, with mosquitto_passwd) and
# Chromium (the status page checked in a real headless browser). Their tests skip, saying why,
# when a binary is missing, so a failed install here only warns.
set -uo pipefail
missing=()
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v chromium >/dev/null || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
. "$(dirname "$0")/../apt.sh"
apt_install "${missing[@]}" || echo "vp-edge setup: fleet (MQTT broker / status page) tests will be skipped." >&2
exit 0
