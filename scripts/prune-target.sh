#!/usr/bin/env bash
# Keeps a long-lived build directory from growing without bound: of each test and binary
# executable in target/*/deps only the newest build is kept, and incremental caches go.
# Usage: scripts/prune-target.sh [TARGET_DIR]
set -euo pipefail
target="${1:-${CARGO_TARGET_DIR:-target}}"
[[ -d "$target" ]] || exit 0
for profile in "$target"/debug "$target"/release; do
  [[ -d "$profile/deps" ]] || continue
  rm -rf "$profile/incremental"
  # Executables are named <name>-<16 hex digits>; list newest first, drop all but the first.
  find "$profile/deps" -maxdepth 1 -type f -perm -u+x -regextype posix-extended -regex '.*-[0-9a-f]{16}' -printf '%T@ %p\n' |
    sort -rn | awk '{ path = $2; name = path; sub(/-[0-9a-f]+$/, "", name); if (seen[name]++) print path }' |
    while read -r old; do rm -f "$old" "$old.d"; done
done
