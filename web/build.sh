#!/usr/bin/env bash
# Builds the what-if page into web/dist/: the wasm module (release, speed-optimised), its JS glue
# from wasm-bindgen-cli, and the static HTML/CSS/JS.
#
#   web/build.sh              build (installs the wasm32 target and wasm-bindgen-cli if missing)
#   web/build.sh --no-install fail instead of installing
#
# Uses $CARGO_TARGET_DIR when set. opt-level 3: the replay in Chromium is ~1.4x faster than at "s"
# for 20 % more gzip (FLOTILLA_WASM_OPT_LEVEL=s or z: smaller, slower).
# wasm-opt is opt-in (FLOTILLA_WASM_OPT=1): it saves ~10 % after
# gzip, and Debian's binaryen 108 produces a module whose externref table Chromium rejects.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
dist="$here/dist"
install=1
[ "${1:-}" = "--no-install" ] && install=0

step() { printf '[build] %s\n' "$*"; }
die() { printf '[build] FAILED: %s\n' "$*" >&2; exit 1; }

# The CLI must be the exact version of the wasm-bindgen crate in Cargo.lock.
wb_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$root/Cargo.lock")
[ -n "$wb_version" ] || die "no wasm-bindgen in Cargo.lock"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  [ $install = 1 ] || die "the wasm32-unknown-unknown target is missing (rustup target add wasm32-unknown-unknown)"
  step "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

have_wb=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have_wb" != "$wb_version" ]; then
  [ $install = 1 ] || die "wasm-bindgen-cli $wb_version is needed (found '${have_wb:-none}')"
  step "cargo install wasm-bindgen-cli --version $wb_version (a few minutes, once)"
  # Not --locked: a version pinned in its lock file is missing from the index.
  cargo install wasm-bindgen-cli --version "$wb_version" --force
fi

target_dir=${CARGO_TARGET_DIR:-$root/target}
level=${FLOTILLA_WASM_OPT_LEVEL:-3}
profile="wasm-release-$level"
case "$level" in [0-3]) level_toml=$level ;; *) level_toml="\"$level\"" ;; esac
step "cargo build flotilla-web for wasm32 (profile $profile: opt-level $level, fat LTO, 1 codegen unit)"
# A dedicated profile defined here, so the workspace's release profile stays as it is.
(cd "$root" && cargo build -p flotilla-web --lib --target wasm32-unknown-unknown \
  --profile "$profile" \
  --config "profile.$profile.inherits=\"release\"" \
  --config "profile.$profile.opt-level=$level_toml" \
  --config "profile.$profile.lto=true" \
  --config "profile.$profile.codegen-units=1" \
  --config "profile.$profile.panic=\"abort\"" \
  --config "profile.$profile.debug=false")
wasm="$target_dir/wasm32-unknown-unknown/$profile/flotilla_web.wasm"
[ -f "$wasm" ] || die "no $wasm"

rm -rf "$dist"
mkdir -p "$dist/pkg"
step "wasm-bindgen $wb_version --target web"
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
  --out-dir "$dist/pkg" "$wasm"

if [ "${FLOTILLA_WASM_OPT:-0}" = 1 ]; then
  command -v wasm-opt >/dev/null 2>&1 || die "FLOTILLA_WASM_OPT=1 but wasm-opt is not installed"
  step "wasm-opt -Oz ($(wasm-opt --version))"
  # The features rustc enables for wasm32-unknown-unknown.
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    -o "$dist/pkg/flotilla_web_bg.wasm.opt" "$dist/pkg/flotilla_web_bg.wasm"
  mv "$dist/pkg/flotilla_web_bg.wasm.opt" "$dist/pkg/flotilla_web_bg.wasm"
else
  step "wasm-opt skipped (FLOTILLA_WASM_OPT=1 runs it: -10 % gzip; Debian's binaryen 108 breaks the externref table)"
fi

cp "$here"/static/* "$dist/"
raw=$(wc -c <"$dist/pkg/flotilla_web_bg.wasm")
gz=$(gzip -9 -c "$dist/pkg/flotilla_web_bg.wasm" | wc -c)
step "done: $dist (wasm $raw bytes, $gz gzipped)"
