#!/usr/bin/env bash
# Installs what building and testing Parlor needs, when it is missing: Debian/Ubuntu packages
# (as root, or through sudo when it can ask), and the Rust toolchain's rustfmt and clippy.
# Usage: scripts/ensure-deps.sh [test]   — "test" adds the servers the test suite starts.
set -euo pipefail

# Building: C/C++ for the codecs (openh264, libopus via cmake), libclang for the V4L2
# bindings, ALSA headers for audio.
packages=(pkg-config build-essential ca-certificates curl cmake nasm libclang-dev libasound2-dev libv4l-dev libopus-dev)
# The desktop app: Tauri on WebKitGTK, with a tray icon.
packages+=(libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev)
if [[ "${1:-}" == "test" ]]; then
  # The browser test drives Debian's Chromium (with a font, so pages render text), in a
  # network namespace of its own when it may (unshare from util-linux, ip from iproute2).
  packages+=(postgresql redis-server chromium fonts-dejavu-core iproute2 util-linux)
  # The desktop app's window test: a virtual display, xwd for screenshots, a session bus.
  packages+=(xvfb x11-apps dbus)
  # Checking packaging/: docker-compose reads the compose file, systemd-analyze the unit.
  packages+=(docker-compose systemd)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The web UI builds with Node.js (20.19 or newer) and npm; any installation will do, so Debian's
# is only added when there is none.
command -v npm >/dev/null || missing+=(nodejs npm)

if ((${#missing[@]})); then
  if ! command -v apt-get >/dev/null; then
    echo "Parlor needs these packages: ${missing[*]} (install them with your package manager)" >&2
    exit 1
  fi
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null; then sudo=(sudo); else
      echo "Parlor needs: ${missing[*]}; run as root: apt-get install -y ${missing[*]}" >&2
      exit 1
    fi
  fi
  echo "Installing ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # The postgresql package starts a system cluster; the tests never use it, they run their own.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  if [[ -x "$HOME/.cargo/bin/cargo" ]]; then
    echo "Rust is installed in ~/.cargo/bin; add it to PATH (source ~/.cargo/env)" >&2
  else
    echo "Installing the Rust toolchain with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
    echo "Rust installed; run: source ~/.cargo/env, then this command again" >&2
  fi
  exit 1
fi

if command -v rustup >/dev/null && rustup show active-toolchain >/dev/null 2>&1; then
  for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c" || true
  done
fi
