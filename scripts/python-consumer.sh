#!/usr/bin/env bash
# Proves the package works for Python users: builds the wheel with jsii-pacmak, installs it
# with the pinned aws-cdk-lib and constructs from PyPI into .venv-python, and runs
# test/python (a user's app: synth + template assertions with aws_cdk.assertions).
#
#   bash scripts/python-consumer.sh [CDK_OUTDIR]
#
# Needs `npm run build` first (lib/*.js, .jsii, assets/). Both steps are cached:
#   - the wheel is rebuilt only when a file npm would pack (hence ship in the wheel) changes;
#   - the venv is rebuilt only when test/python/requirements.txt or the interpreter changes,
#     and our wheel is reinstalled only when it changes.
# A fresh clone builds both from scratch. Prints `python-consumer: <step> <seconds> s` timings.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="${PYTHON_CONSUMER_VENV:-.venv-python}"
REQUIREMENTS=test/python/requirements.txt
WHEEL_DIR=dist/python
OUTDIR="${1:-$(mktemp -d)}"
# CI runs Node 20, past jsii's support window; the warning box would bury the test output.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20

log() { echo "python-consumer: $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  log "'$PYTHON' not found. The Python consumer test needs Python >= 3.10 with venv and pip:"
  log "  Debian/Ubuntu: apt-get install -y python3 python3-venv python3-pip"
  log "  macOS: brew install python@3.11; elsewhere: https://www.python.org/downloads/"
  log "or set PYTHON=/path/to/python3."
  exit 1
fi
if ! "$PYTHON" -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
  log "$("$PYTHON" --version 2>&1) at $(command -v "$PYTHON") is older than 3.10 or lacks venv/ensurepip."
  log "  Debian/Ubuntu: apt-get install -y python3 python3-venv python3-pip (Python >= 3.10), or set PYTHON=."
  exit 1
fi
if [ ! -f .jsii ] || [ ! -d assets/lambda ] || [ ! -d assets/examples/customer-totals ]; then
  log ".jsii or assets/ missing: run \`npm run build\` first."
  exit 1
fi

# 1. The wheel. Its inputs are the files `npm pack` takes (package.json `files`), as pacmak
# packs the npm tarball into the wheel, plus the pacmak version.
inputs_hash() {
  {
    npm pack --dry-run --json --ignore-scripts 2>/dev/null \
      | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const f of JSON.parse(s)[0].files)console.log(f.path)})' \
      | LC_ALL=C sort | while read -r f; do sha256sum "$f"; done
    node -p 'require("jsii-pacmak/package.json").version'
  } | sha256sum | cut -d' ' -f1
}
want_inputs="$(inputs_hash)"
wheel() { ls "$WHEEL_DIR"/*.whl 2>/dev/null | head -1; }
if [ -n "$(wheel)" ] && [ "$(cat "$WHEEL_DIR/.inputs-sha256" 2>/dev/null)" = "$want_inputs" ]; then
  log "wheel up to date ($(wheel)), pacmak skipped"
else
  start="$(now)"
  rm -rf "$WHEEL_DIR"
  # `npm pack` inside pacmak would run `prepare` (a full rebuild) again: the build is done.
  npm_config_ignore_scripts=true npx jsii-pacmak --targets python --no-npmignore --force >&2
  echo "$want_inputs" > "$WHEEL_DIR/.inputs-sha256"
  log "pacmak $(since "$start") s"
fi
WHEEL="$(wheel)"
log "wheel $(basename "$WHEEL") $(stat -c %s "$WHEEL") bytes"

# 2. The venv: pinned closure, no resolution (--no-deps), then our wheel, then `pip check`.
want_env="$(cat "$REQUIREMENTS" <("$PYTHON" -VV) | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$VENV/.requirements-sha256" 2>/dev/null)" = "$want_env" ]; then
  log "venv up to date ($VENV)"
else
  start="$(now)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input --no-deps -r "$REQUIREMENTS" >&2
  echo "$want_env" > "$VENV/.requirements-sha256"
  log "venv $(since "$start") s"
fi
want_wheel="$(sha256sum "$WHEEL" | cut -d' ' -f1)"
if [ "$(cat "$VENV/.wheel-sha256" 2>/dev/null)" != "$want_wheel" ]; then
  start="$(now)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input --no-deps --force-reinstall "$WHEEL" >&2
  echo "$want_wheel" > "$VENV/.wheel-sha256"
  log "wheel install $(since "$start") s"
fi
# Our wheel's Requires-Dist (from package.json's peerDependencies) must accept the pinned versions.
"$VENV/bin/python" -m pip check --disable-pip-version-check >&2

# 3. The user's app: synth and assertions.
start="$(now)"
CDK_OUTDIR="$OUTDIR" "$VENV/bin/python" -m unittest discover --start-directory test/python --pattern 'test_*.py' --verbose
log "python synth + assertions $(since "$start") s"
log "cloud assembly in $OUTDIR"
