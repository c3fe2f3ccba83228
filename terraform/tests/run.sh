#!/usr/bin/env bash
# Every check of terraform/, offline, against loopback peers only.
#
#   terraform/tests/run.sh                 all steps
#   terraform/tests/run.sh STEP...         some of: fmt validate test render docs moto checkov
#   terraform/tests/run.sh --keep [--workdir DIR]
#                                          apply examples/default to moto and leave moto running
#                                          with the state; prints FLOTILLA_MOTO_OUTPUTS=<file> (the
#                                          `terraform output -json`) and FLOTILLA_MOTO_ENV=<file>
#                                          (endpoint, credentials, moto pid) for issue 8's twin
#
# Needs terraform (1.11) with the hashicorp/aws provider in a filesystem mirror (a folder named
# registry.terraform.io holding hashicorp/aws/<version>); installs moto[server] and checkov into
# their own venvs under $FLOTILLA_CACHE (default ~/.cache/flotilla) when missing, and shellcheck
# with apt-get. Prints each step's time; exits non-zero when any step fails.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TF_ROOT="$(cd "$HERE/.." && pwd)"
REPO_ROOT="$(cd "$TF_ROOT/.." && pwd)"
CACHE="${FLOTILLA_CACHE:-$HOME/.cache/flotilla}"
MOTO_VERSION="5.2.1"
CHECKOV_VERSION="3.3.30"
AWS_PROVIDER_VERSION="5.100.0"

KEEP=false
WORKDIR=""
STEPS=()
while [ $# -gt 0 ]; do
  arg="$1"
  shift
  case "$arg" in
    --keep) KEEP=true ;;
    --workdir)
      WORKDIR="${1:?--workdir needs a folder}"
      shift
      ;;
    fmt | validate | test | render | docs | moto | checkov) STEPS+=("$arg") ;;
    -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done
if $KEEP; then
  STEPS=(moto)
elif [ ${#STEPS[@]} -eq 0 ]; then
  STEPS=(fmt validate test render docs moto checkov)
fi

if [ -n "$WORKDIR" ]; then
  mkdir -p "$WORKDIR"
  WORK="$(cd "$WORKDIR" && pwd)"
  [ -z "$(ls -A "$WORK")" ] || { echo "--workdir $WORK is not empty" >&2; exit 2; }
else
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/flotilla-tf.XXXXXX")"
fi
MOTO_PID=""
cleanup() {
  if [ -n "$MOTO_PID" ] && ! $KEEP; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
  fi
  if ! $KEEP && [ -z "$WORKDIR" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

# Terraform: no CLI config of the machine's, no checkpoint calls, no prompts; data dirs in $WORK.
: > "$WORK/terraformrc"
export TF_CLI_CONFIG_FILE="$WORK/terraformrc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
unset TF_PLUGIN_CACHE_DIR TF_DATA_DIR

log() { printf '%s\n' "$*"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

PASSED=()
FAILED=()
TIMES=()
run_step() {
  local name="$1"
  shift
  local t0
  t0="$(now)"
  log ""
  log "==> $name"
  if "$@"; then
    TIMES+=("$name $(elapsed "$t0")s ok")
    PASSED+=("$name")
    log "<== $name ok ($(elapsed "$t0")s)"
  else
    TIMES+=("$name $(elapsed "$t0")s FAILED")
    FAILED+=("$name")
    log "<== $name FAILED ($(elapsed "$t0")s)"
  fi
}

find_plugin_dir() {
  local d
  for d in ${TF_PLUGIN_MIRROR:-} /opt /usr/local /usr/share /root /home /var/lib /srv; do
    [ -d "$d" ] || continue
    while IFS= read -r m; do
      if [ -d "$m/hashicorp/aws/$AWS_PROVIDER_VERSION" ] || compgen -G "$m/hashicorp/aws/5.*" >/dev/null; then
        dirname "$m"
        return 0
      fi
    done < <(find "$d" -maxdepth 5 -type d -name registry.terraform.io 2>/dev/null)
  done
  return 1
}

PLUGIN_DIR=""
need_terraform() {
  command -v terraform >/dev/null || { log "terraform is not on PATH"; return 1; }
  if [ -z "$PLUGIN_DIR" ]; then
    PLUGIN_DIR="$(find_plugin_dir)" || { log "no filesystem mirror with hashicorp/aws found (a folder named registry.terraform.io)"; return 1; }
    log "provider mirror: $PLUGIN_DIR/registry.terraform.io ($(terraform version | head -1))"
  fi
}

# init into a data dir of its own under $WORK (keeps .terraform/ out of the tree)
tf_init() {
  local dir="$1" data="$2"
  TF_DATA_DIR="$data" terraform -chdir="$dir" init -backend=false -input=false -no-color -plugin-dir="$PLUGIN_DIR" >"$data.init.log" 2>&1 || {
    cat "$data.init.log"
    return 1
  }
}

step_fmt() {
  need_terraform || return 1
  terraform fmt -check -recursive -diff "$TF_ROOT"
}

step_validate() {
  need_terraform || return 1
  local dir name ok=0 count=0
  for dir in "$TF_ROOT" "$TF_ROOT"/modules/* "$TF_ROOT"/examples/* "$TF_ROOT/tests/render"; do
    name="${dir#"$TF_ROOT"}"
    name="${name#/}"
    name="${name:-root}"
    local data="$WORK/tfdata/${name//\//_}"
    mkdir -p "$data"
    count=$((count + 1))
    if tf_init "$dir" "$data" && TF_DATA_DIR="$data" terraform -chdir="$dir" validate -no-color >"$data.validate.log" 2>&1; then
      log "  valid   $name"
    else
      log "  INVALID $name"
      cat "$data.validate.log" 2>/dev/null || true
      ok=1
    fi
  done
  log "  $count configurations checked"
  # Every field of the core config is a variable of the module (same names; issue 6).
  local fields missing=()
  fields="$(sed -n '/pub const CONFIG_FIELDS/,/^];/p' "$REPO_ROOT/core/src/config.rs" | grep -o '"[a-z0-9_]*"' | tr -d '"')"
  for f in $fields; do
    grep -q "^variable \"$f\" {" "$TF_ROOT/variables.tf" || missing+=("$f")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "  core config fields without a module variable: ${missing[*]}"
    ok=1
  fi
  local deployment extra=()
  deployment="$(sed -n '/pub const DEPLOYMENT_VARIABLES/,/^];/p' "$REPO_ROOT/core/src/config.rs" | grep -o '"[a-z0-9_]*"' | tr -d '"')"
  while IFS= read -r v; do
    grep -qx "$v" <<<"$fields"$'\n'"$deployment" || extra+=("$v")
  done < <(grep -o '^variable "[a-z0-9_]*"' "$TF_ROOT/variables.tf" | cut -d'"' -f2)
  [ ${#extra[@]} -eq 0 ] || log "  note: variables neither in CONFIG_FIELDS nor DEPLOYMENT_VARIABLES of core/src/config.rs: ${extra[*]}"
  local absent=()
  for v in $deployment; do
    grep -q "^variable \"$v\" {" "$TF_ROOT/variables.tf" || absent+=("$v")
  done
  [ ${#absent[@]} -eq 0 ] || log "  note: DEPLOYMENT_VARIABLES of core/src/config.rs that are not variables: ${absent[*]}"
  return $ok
}

step_test() {
  need_terraform || return 1
  local data="$WORK/tfdata/test"
  mkdir -p "$data"
  tf_init "$TF_ROOT" "$data" || return 1
  (cd "$TF_ROOT" && TF_DATA_DIR="$data" terraform test -no-color)
}

ensure_shellcheck() {
  command -v shellcheck >/dev/null && return 0
  log "  installing shellcheck (apt-get)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck) >"$WORK/apt.log" 2>&1 || {
    cat "$WORK/apt.log"
    return 1
  }
}

step_render() {
  need_terraform || return 1
  ensure_shellcheck || return 1
  local data="$WORK/tfdata/render" out="$WORK/render" ok=0
  shellcheck -s bash "$TF_ROOT/tests/run.sh" || ok=1
  mkdir -p "$data" "$out"
  tf_init "$TF_ROOT/tests/render" "$data" || return 1
  TF_DATA_DIR="$data" terraform -chdir="$TF_ROOT/tests/render" apply -auto-approve -no-color -state="$out/render.tfstate" >"$out/apply.log" 2>&1 || {
    cat "$out/apply.log"
    return 1
  }
  local name
  for name in $(TF_DATA_DIR="$data" terraform -chdir="$TF_ROOT/tests/render" output -state="$out/render.tfstate" -json | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)))'); do
    TF_DATA_DIR="$data" terraform -chdir="$TF_ROOT/tests/render" output -state="$out/render.tfstate" -raw "$name" >"$out/$name"
    case "$name" in
      windows*)
        local flags=()
        [[ "$name" == *ephemeral* ]] && flags+=(--ephemeral)
        [[ "$name" == *jit* ]] && flags+=(--jit)
        [[ "$name" == *s3* ]] && flags+=(--s3)
        python3 "$TF_ROOT/tests/render/check_powershell.py" "$out/$name" "${flags[@]}" || ok=1
        ;;
      *)
        if bash -n "$out/$name" && shellcheck -s bash "$out/$name"; then
          log "  shellcheck ok: $name ($(wc -c <"$out/$name") bytes)"
        else
          log "  shellcheck FAILED: $name"
          ok=1
        fi
        # shellcheck disable=SC2016 # literal bash of the rendered script
        if ! grep -q 'aws ssm get-parameter --name "$TOKEN_PARAMETER" --with-decryption' "$out/$name" ||
          ! grep -q 'aws ssm delete-parameter --name "$TOKEN_PARAMETER"' "$out/$name" ||
          ! grep -q "TOKEN_PATH='/render-test/runners/tokens'" "$out/$name" ||
          ! grep -q 'imds tags/instance/flotilla:owner' "$out/$name"; then
          log "  $name does not read then delete its own token"
          ok=1
        fi
        if [[ "$name" == *ephemeral* ]] && ! grep -q "^EPHEMERAL='true'" "$out/$name"; then
          log "  $name: ephemeral flag not rendered"
          ok=1
        fi
        ;;
    esac
  done
  return $ok
}

step_docs() {
  python3 "$TF_ROOT/scripts/readme-tables.py" --check
}

# --- moto ---------------------------------------------------------------------------------
MOTO_PY=""
ensure_moto() {
  if python3 -c 'import moto.server, boto3' 2>/dev/null && command -v moto_server >/dev/null; then
    MOTO_PY="python3"
  else
    local venv="$CACHE/venv-moto-$MOTO_VERSION"
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import moto.server, boto3' 2>/dev/null; then
      log "  installing moto[server]==$MOTO_VERSION into $venv"
      python3 -m venv "$venv" && "$venv/bin/pip" install -q "moto[server]==$MOTO_VERSION" || return 1
    fi
    MOTO_PY="$venv/bin/python"
  fi
}

start_moto() {
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  MOTO_ENDPOINT="http://127.0.0.1:$port"
  MOTO_IAM_LOAD_MANAGED_POLICIES=true "$MOTO_PY" -m moto.server -H 127.0.0.1 -p "$port" >"$WORK/moto.log" 2>&1 &
  MOTO_PID=$!
  local _
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "$MOTO_ENDPOINT/moto-api/" 2>/dev/null; then
      log "  moto $MOTO_VERSION on $MOTO_ENDPOINT (pid $MOTO_PID)"
      return 0
    fi
    sleep 0.2
  done
  log "  moto did not start:"
  cat "$WORK/moto.log"
  return 1
}

step_moto() {
  need_terraform || return 1
  ensure_moto || return 1
  start_moto || return 1
  export AWS_ENDPOINT_URL="$MOTO_ENDPOINT" AWS_REGION="eu-west-1" AWS_DEFAULT_REGION="eu-west-1" \
    AWS_ACCESS_KEY_ID="testing" AWS_SECRET_ACCESS_KEY="testing" AWS_EC2_METADATA_DISABLED=true
  unset AWS_PROFILE AWS_SESSION_TOKEN

  # examples/default, copied so the test-only provider override never touches it.
  local ex="$WORK/examples-default" zips="$WORK/lambda-zips" data="$WORK/tfdata/moto"
  mkdir -p "$ex" "$zips" "$data"
  cp "$TF_ROOT"/examples/default/*.tf "$ex/"
  sed -i -E "s|source( *)= \"\.\./\.\./\"|source\1= \"$TF_ROOT\"|" "$ex/main.tf"
  sed "s|MOTO_ENDPOINT|$MOTO_ENDPOINT|g" "$HERE/moto/moto_override.tf" >"$ex/moto_override.tf"
  for z in webhook runners runner-binaries-syncer; do cp "$HERE/fixtures/dummy-lambda.zip" "$zips/$z.zip"; done
  local net vpc subnets
  net="$("$MOTO_PY" "$HERE/moto_check.py" network)" || return 1
  vpc="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["vpc_id"])' "$net")"
  subnets="$(python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1])["subnet_ids"]))' "$net")"
  cat >"$ex/moto.auto.tfvars.json" <<EOF
{
  "aws_region": "eu-west-1",
  "vpc_id": "$vpc",
  "subnet_ids": $subnets,
  "github_app_id": "123456",
  "github_app_key_base64": "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQo=",
  "github_webhook_secret": "moto-test-secret",
  "lambda_zips_dir": "$zips",
  "lambda_architecture": "x86_64"
}
EOF
  tf_init "$ex" "$data" || return 1
  local t0
  t0="$(now)"
  if ! TF_DATA_DIR="$data" terraform -chdir="$ex" apply -auto-approve -no-color -parallelism=20 >"$WORK/moto-apply.log" 2>&1; then
    tail -60 "$WORK/moto-apply.log"
    return 1
  fi
  log "  apply: $(grep -o 'Resources: [0-9]* added' "$WORK/moto-apply.log") in $(elapsed "$t0")s"
  TF_DATA_DIR="$data" terraform -chdir="$ex" output -json >"$ex/outputs.json"
  "$MOTO_PY" "$HERE/moto_check.py" deployed "$ex/outputs.json" || return 1

  if $KEEP; then
    "$MOTO_PY" "$HERE/moto_check.py" keep "$ex/outputs.json" || return 1
    cat >"$ex/moto.env" <<EOF
AWS_ENDPOINT_URL=$MOTO_ENDPOINT
AWS_REGION=eu-west-1
AWS_DEFAULT_REGION=eu-west-1
AWS_ACCESS_KEY_ID=testing
AWS_SECRET_ACCESS_KEY=testing
AWS_EC2_METADATA_DISABLED=true
MOTO_PID=$MOTO_PID
TF_DATA_DIR=$data
TF_CLI_CONFIG_FILE=$WORK/terraformrc
EOF
    log ""
    log "moto keeps running (pid $MOTO_PID) with examples/default applied:"
    log "  outputs:   $ex/outputs.json   (terraform output -json)"
    log "  endpoint:  $ex/moto.env"
    log "  state:     $ex/terraform.tfstate"
    log "  stop:      kill $MOTO_PID; rm -rf $WORK"
    log "FLOTILLA_MOTO_OUTPUTS=$ex/outputs.json"
    log "FLOTILLA_MOTO_ENV=$ex/moto.env"
    return 0
  fi

  t0="$(now)"
  if ! TF_DATA_DIR="$data" terraform -chdir="$ex" destroy -auto-approve -no-color -parallelism=20 >"$WORK/moto-destroy.log" 2>&1; then
    tail -60 "$WORK/moto-destroy.log"
    return 1
  fi
  log "  destroy: $(grep -o 'Resources: [0-9]* destroyed' "$WORK/moto-destroy.log") in $(elapsed "$t0")s"
  "$MOTO_PY" "$HERE/moto_check.py" empty
}

# --- checkov ------------------------------------------------------------------------------
step_checkov() {
  local venv="$CACHE/venv-checkov-$CHECKOV_VERSION"
  if [ ! -x "$venv/bin/checkov" ]; then
    log "  installing checkov==$CHECKOV_VERSION into $venv"
    python3 -m venv "$venv" && "$venv/bin/pip" install -q "checkov==$CHECKOV_VERSION" || return 1
  fi
  log "  $("$venv/bin/checkov" --version 2>/dev/null | tail -1 | sed 's/^/checkov /')"
  local out="$WORK/checkov.json"
  "$venv/bin/checkov" -d "$TF_ROOT" --framework terraform --skip-download \
    --download-external-modules false --skip-path tests/ -o json >"$out" 2>"$WORK/checkov.err" || true
  [ -s "$out" ] || { cat "$WORK/checkov.err"; return 1; }
  python3 - "$out" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1]))
reports = data if isinstance(data, list) else [data]
passed = failed = skipped = 0
for r in reports:
    s = r.get("summary", {})
    passed += s.get("passed", 0); failed += s.get("failed", 0); skipped += s.get("skipped", 0)
    seen = set()
    for c in r.get("results", {}).get("skipped_checks", []):
        key = (c["check_id"], c["file_path"], c["resource"].split(".")[-2], (c.get("check_result") or {}).get("suppress_comment", ""))
        if key not in seen:
            seen.add(key)
            print(f"  skip {key[0]} {key[2]} ({key[1]}): {key[3]}")
    for c in r.get("results", {}).get("failed_checks", []):
        print(f"  FAIL {c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range']}) {c['check_name']}")
print(f"  checkov: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or not passed else 0)
EOF
}

for s in "${STEPS[@]}"; do
  run_step "$s" "step_$s"
done

log ""
log "terraform/tests/run.sh summary:"
for t in "${TIMES[@]}"; do log "  $t"; done
log "${#PASSED[@]} passed, ${#FAILED[@]} failed"
if [ ${#FAILED[@]} -gt 0 ]; then
  log "FAILED steps: ${FAILED[*]}"
  exit 1
fi
