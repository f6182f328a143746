# Sourced by scripts/setup.d/*.sh: install Debian packages, or say clearly why not.
apt_install() {
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; fi
  fi
  if ! command -v apt-get >/dev/null || { [ "$(id -u)" != 0 ] && [ -z "$sudo" ]; }; then
    echo "vp-edge setup: needs the Debian package(s) $*, and apt-get is not usable here." >&2
    echo "  Install them yourself (as root: apt-get install -y $*) and run make again." >&2
    return 1
  fi
  echo "vp-edge setup: installing Debian package(s) $* ..." >&2
  $sudo apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}
