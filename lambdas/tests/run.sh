#!/usr/bin/env bash
# The Lambdas' end-to-end tests against real peers on loopback: moto (EC2, SQS, SSM, KMS, S3)
# behind the tests' fault proxy, and flotilla-testkit's fake GitHub (in process).
#
#   lambdas/tests/run.sh            all lambdas tests, moto started and stopped here
#   FLOTILLA_LAMBDAS_SELECTION="-p flotilla-lambdas" lambdas/tests/run.sh
#                                   build only this crate (a developer's own target dir)
#
# The default selection is the workspace, the same as scripts/test's rust phase, so CI reuses
# that build instead of rebuilding the AWS SDK with other features. Prints each step's time and
# fails loudly.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
venv=${FLOTILLA_VENV:-$root/.venv}
selection=${FLOTILLA_LAMBDAS_SELECTION:---workspace}
out=${FLOTILLA_TEST_OUTPUT:-$root/test-output}
mkdir -p "$out"

step_start=$SECONDS
step() { printf '\n---- lambdas: %s (%ss so far)\n' "$1" $((SECONDS - step_start)); }
fail() { printf '\nLAMBDAS TESTS FAILED: %s\n' "$1" >&2; exit 1; }

step "moto into $venv"
if [ ! -x "$venv/bin/moto_server" ]; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" || fail "cannot create the venv $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-test.txt \
    || fail "pip install -r scripts/requirements-test.txt"
fi
"$venv/bin/moto_server" --help >/dev/null || fail "moto_server does not run"

step "start moto on 127.0.0.1"
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
MOTO_IAM_LOAD_MANAGED_POLICIES=true "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$out/moto.log" 2>&1 &
moto_pid=$!
stop_moto() { kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; }
trap stop_moto EXIT
for _ in $(seq 1 150); do
  if "$venv/bin/python" - "$port" <<'PY' 2>/dev/null; then break; fi
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1)
PY
  kill -0 "$moto_pid" 2>/dev/null || fail "moto exited: $(tail -5 "$out/moto.log")"
  sleep 0.2
done
export FLOTILLA_MOTO_URL="http://127.0.0.1:$port"
export AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
echo "moto at $FLOTILLA_MOTO_URL (pid $moto_pid)"

step "cargo test ($selection): payload table, scenario table, end to end, extras, bootstrap, logs (unit tests run in the rust phase)"
# shellcheck disable=SC2086
cargo test $selection --locked \
  --test e2e --test extras --test bootstrap --test logs --test webhook_payloads --test policy_table \
  -- --test-threads 4 2>&1 | tee "$out/lambdas-tests.log"
status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] || fail "cargo test (see $out/lambdas-tests.log)"
if grep -q '^SKIPPED' "$out/lambdas-tests.log"; then
  fail "tests skipped although moto runs: $(grep '^SKIPPED' "$out/lambdas-tests.log" | head -3)"
fi

step "done"
stop_moto
trap - EXIT
