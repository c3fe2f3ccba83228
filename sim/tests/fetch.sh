#!/usr/bin/env bash
# The fetchers' tests (feature `fetch` of flotilla-sim): `flotilla trace fetch` against
# flotilla-testkit's fake GitHub (in process), `flotilla prices fetch` against moto (EC2, started
# and stopped here on 127.0.0.1), a paging proxy in front of it and a fake Price List endpoint
# (both in process). Also the fetch module's unit tests.
#
#   sim/tests/fetch.sh
#
# Uses $FLOTILLA_VENV/bin/moto_server (default: <repo>/.venv, created from
# scripts/requirements-test.txt when missing) and $CARGO_TARGET_DIR if set. Prints each step's
# time and fails loudly, also when a moto test would have skipped itself.
#
#   FLOTILLA_FETCH_SELECTION="--workspace --features flotilla-sim/fetch" sim/tests/fetch.sh
#
# changes the package selection (default `-p flotilla-sim --features fetch`). A selection unifies
# the AWS SDK's features its own way: after a `--workspace` build, the default selection rebuilds
# the SDK (minutes, ~7.5 GB RSS); the workspace one reuses it.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
venv=${FLOTILLA_VENV:-$root/.venv}
out=${FLOTILLA_TEST_OUTPUT:-$root/test-output}
mkdir -p "$out"

start=$SECONDS
step_start=$SECONDS
step() {
  printf '\n---- fetch: %s (%ss so far)\n' "$1" $((SECONDS - start))
  step_start=$SECONDS
}
done_step() { printf '     took %ss\n' $((SECONDS - step_start)); }
fail() { printf '\nFETCH TESTS FAILED: %s\n' "$1" >&2; exit 1; }

step "moto in $venv"
if [ ! -x "$venv/bin/moto_server" ]; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" || fail "cannot create the venv $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-test.txt \
    || fail "pip install -r scripts/requirements-test.txt"
fi
"$venv/bin/moto_server" --help >/dev/null || fail "moto_server does not run"
done_step

step "start moto on 127.0.0.1"
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
MOTO_IAM_LOAD_MANAGED_POLICIES=true "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$out/fetch-moto.log" 2>&1 &
moto_pid=$!
stop_moto() { kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; }
trap stop_moto EXIT
ready=
for _ in $(seq 1 150); do
  if "$venv/bin/python" - "$port" <<'PY' 2>/dev/null; then ready=1; break; fi
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1)
PY
  kill -0 "$moto_pid" 2>/dev/null || fail "moto exited: $(tail -5 "$out/fetch-moto.log")"
  sleep 0.2
done
[ -n "$ready" ] || fail "moto did not answer on 127.0.0.1:$port within 30 s"
export FLOTILLA_MOTO_URL="http://127.0.0.1:$port"
export AWS_EC2_METADATA_DISABLED=true
export FLOTILLA_REQUIRE_MOTO=1   # the moto tests fail instead of skipping
echo "moto at $FLOTILLA_MOTO_URL (pid $moto_pid)"
done_step

selection=${FLOTILLA_FETCH_SELECTION:--p flotilla-sim --features fetch}
log="$out/fetch-tests.log"
: >"$log"
step "build and run: cargo test $selection --test 'fetch_*'"
set +e
# shellcheck disable=SC2086
cargo test $selection --locked --no-fail-fast --test 'fetch_*' -- --test-threads 4 2>&1 | tee -a "$log"
status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 0 ] || fail "cargo test --test 'fetch_*' (see $log)"
done_step

step "unit tests of the fetch module: cargo test $selection --lib fetch::"
set +e
# shellcheck disable=SC2086
cargo test $selection --locked --lib fetch:: 2>&1 | tee -a "$log"
status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 0 ] || fail "cargo test --lib fetch:: (see $log)"
done_step

grep -q '^test result: ok' "$log" || fail "no test ran (see $log)"
if grep -q '^SKIPPED' "$log"; then
  fail "tests skipped although moto runs: $(grep '^SKIPPED' "$log" | head -3)"
fi
if grep -Eq '^running 0 tests' "$log" && ! grep -Eq '^running [1-9]' "$log"; then
  fail "no fetch test ran (see $log)"
fi

stop_moto
trap - EXIT
printf '\nfetch tests passed in %ss\n' $((SECONDS - start))
