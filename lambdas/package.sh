#!/usr/bin/env bash
# Builds webhook.zip, runners.zip and runner-binaries-syncer.zip with cargo-lambda.
#
#   lambdas/package.sh                 x86_64 and arm64
#   lambdas/package.sh x86_64          one architecture (CI may build only this one)
#
# Output: lambdas/dist/<arch>/{webhook,runners,runner-binaries-syncer}.zip, each holding one
# `bootstrap` for the provided.al2023 runtime (the x86_64 binaries need glibc 2.30: not al2).
# cargo-lambda and zig come from PyPI (lambdas/requirements-package.txt) into $FLOTILLA_VENV;
# nothing else is downloaded. Each architecture gets its own --lambda-dir (both would write
# target/lambda/<bin>/bootstrap.zip otherwise). A release build of only this crate takes
# ~13 min per architecture on 2 cores, which is why scripts/test does not run this.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
venv=${FLOTILLA_VENV:-$root/.venv}
target=${CARGO_TARGET_DIR:-$root/target}
archs=("$@")
[ ${#archs[@]} -eq 0 ] && archs=(x86_64 arm64)

if [ ! -x "$venv/bin/cargo-lambda" ]; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r lambdas/requirements-package.txt
fi
export PATH="$venv/bin:$PATH"

for arch in "${archs[@]}"; do
  case "$arch" in
    x86_64) flag=--x86-64 ;;
    arm64) flag=--arm64 ;;
    *) echo "unknown architecture $arch (x86_64 or arm64)" >&2; exit 2 ;;
  esac
  start=$SECONDS
  lambda_dir="$target/lambda-$arch"
  cargo lambda build --release --locked -p flotilla-lambdas "$flag" \
    --lambda-dir "$lambda_dir" --output-format zip
  mkdir -p "lambdas/dist/$arch"
  for bin in webhook runners runner-binaries-syncer; do
    cp "$lambda_dir/$bin/bootstrap.zip" "lambdas/dist/$arch/$bin.zip"
  done
  echo "$arch: built in $((SECONDS - start))s"
  ls -l "lambdas/dist/$arch"
done
