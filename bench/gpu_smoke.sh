#!/usr/bin/env bash
# GPU smoke test of Parzen's worker on Keras 3's JAX or PyTorch backend, for a machine with an
# NVIDIA GPU, JAX or PyTorch with CUDA already installed, no TensorFlow and no internet.
#
#   bench/gpu_smoke.sh            run it (one command; prints the figures, exits non-zero on
#                                 any failure)
#   bench/gpu_smoke.sh --fetch    on a machine WITH internet and the same Python version:
#                                 fill .whl/ with Parzen's wheel, Keras and their dependencies
#
# What it does: installs Parzen and Keras from the wheels in .whl/ (pip --no-index --no-deps
# --target, beside the machine's own JAX/PyTorch), starts `parzen server` on SQLite, and runs
# the same short convnet study on `digits` twice with `parzen worker --burst`: on the GPUs
# (`--gpus all`, one process per GPU) and on the CPU (CUDA_VISIBLE_DEVICES=""). It prints
# trials per minute for both, the peak GPU memory used (nvidia-smi), and the CUDA_VISIBLE_DEVICES
# each worker process was started with.
#
# Settings (environment): PYTHON (python3), KERAS_BACKEND (jax or torch; found if unset),
# WHEELS (.whl beside the repository root), TRIALS (12), EPOCHS (8), PORT (8765).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
WHEELS=${WHEELS:-$ROOT/.whl}
TRIALS=${TRIALS:-12}
EPOCHS=${EPOCHS:-8}
PORT=${PORT:-8765}

if [ "${1:-}" = "--fetch" ]; then
  mkdir -p "$WHEELS"
  # The project (no extras: no TensorFlow) and Keras, with every dependency, as wheels.
  "$PYTHON" -m pip wheel --wheel-dir "$WHEELS" "$ROOT" "keras>=3.8" psutil
  echo "wheels in $WHEELS: carry them with the repository to the GPU machine"
  exit 0
fi

die() { echo "gpu_smoke: $*" >&2; exit 1; }

command -v nvidia-smi >/dev/null || die "nvidia-smi not found: this check needs an NVIDIA GPU"
compgen -G "$WHEELS/*.whl" >/dev/null || die "no wheels in $WHEELS: run '$0 --fetch' where there is internet"

if [ -z "${KERAS_BACKEND:-}" ]; then
  if "$PYTHON" -c 'import jax, sys; sys.exit(not jax.devices("gpu"))' 2>/dev/null; then
    KERAS_BACKEND=jax
  elif "$PYTHON" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())' 2>/dev/null; then
    KERAS_BACKEND=torch
  else
    die "neither JAX nor PyTorch sees a CUDA GPU with $PYTHON"
  fi
fi
export KERAS_BACKEND
# JAX takes 75% of GPU memory at start by default: allocate on demand so that nvidia-smi shows
# what training uses.
export XLA_PYTHON_CLIENT_PREALLOCATE=false

WORK=$(mktemp -d "${TMPDIR:-/tmp}/parzen-gpu-smoke.XXXXXX")
SITE=$WORK/site
pids=()
SAMPLER=
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

echo "== installing Parzen and Keras from $WHEELS into $SITE (backend: $KERAS_BACKEND)"
"$PYTHON" -m pip install --quiet --no-index --no-deps --target "$SITE" "$WHEELS"/*.whl
export PYTHONPATH=$SITE
cd "$WORK"  # away from the checkout: `python -m` must import the installed copy
"$PYTHON" -c 'import keras, service; print("keras", keras.__version__, "on", keras.backend.backend(), "| parzen from", service.__path__[0])'
if "$PYTHON" -c 'import tensorflow' 2>/dev/null; then
  echo "note: TensorFlow is importable here; KERAS_BACKEND=$KERAS_BACKEND is what trains"
fi
parzen() { "$PYTHON" -m parzen.cli.main "$@"; }

URL=http://127.0.0.1:$PORT
echo "== server on $URL (SQLite in $WORK)"
# Started directly (not through the function): $! is then the server itself, for the cleanup.
PARZEN_DATABASE_URL=sqlite:///$WORK/smoke.db PARZEN_AUTH=false PARZEN_HOST=127.0.0.1 \
  PARZEN_PORT=$PORT PARZEN_ARTIFACT_DIR=$WORK/artifacts \
  "$PYTHON" -m parzen.cli.main server >"$WORK/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 60); do
  "$PYTHON" -c "import urllib.request; urllib.request.urlopen('$URL/healthz', timeout=2)" 2>/dev/null && break
  sleep 1
done
"$PYTHON" -c "import urllib.request; urllib.request.urlopen('$URL/healthz', timeout=2)" \
  || { cat "$WORK/server.log" >&2; die "the server did not come up"; }

GPUS=$(nvidia-smi --query-gpu=index --format=csv,noheader | wc -l)

study_file() {  # $1: study name, $2: trials in parallel
  cat >"$WORK/$1.yaml" <<YAML
name: $1
direction: maximize
metric: val_accuracy
algorithm: random
seed: 7
objective: {builder: convnet, dataset: digits, max_epochs: $EPOCHS, patience: 3, batch_size: 64}
budget: {max_trials: $TRIALS, max_parallel: $2}
space:
  blocks: {type: int, low: 1, high: 2}
  filters: {type: int, low: 16, high: 64, log: true}
  dropout: {type: uniform, low: 0.0, high: 0.4}
  learning_rate: {type: loguniform, low: 1.0e-4, high: 1.0e-2}
YAML
  echo "$WORK/$1.yaml"
}

count() {  # $1: study, $2: state -> number of trials in that state
  "$PYTHON" - "$URL" "$1" "$2" <<'PY'
import json, sys, urllib.request
url, study, state = sys.argv[1:]
with urllib.request.urlopen(f"{url}/api/v1/studies/{study}/trials?state={state}&limit=1") as r:
    print(json.load(r)["count"])
PY
}

run_study() {  # $1: gpu or cpu, $2: the --gpus value
  local name=smoke-$1 log=$WORK/worker-$1.log start end finished failed
  local hide=()
  [ "$1" = cpu ] && hide=(CUDA_VISIBLE_DEVICES=)  # the CPU run: no GPU visible at all
  parzen study create "$(study_file "$name" "$([ "$1" = gpu ] && echo "$GPUS" || echo 1)")" --url "$URL"
  start=$(date +%s.%N)
  # --max-trials-per-process: a supervisor even on a one-GPU machine, so that every daemon is a
  # child started with its own CUDA_VISIBLE_DEVICES (the path a multi-GPU node takes).
  env "${hide[@]}" "$PYTHON" -m parzen.cli.main worker --server "$URL" --gpus "$2" --burst \
    --max-trials-per-process 100000 --artifact-dir "$WORK/worker-$1" >"$log" 2>&1 &
  local worker=$!
  pids+=("$worker")
  if [ "$1" = gpu ]; then
    nvidia-smi --query-gpu=index,memory.used --format=csv,noheader,nounits -l 1 \
      >"$WORK/gpu-memory.csv" 2>/dev/null &
    SAMPLER=$!
    pids+=("$SAMPLER")
    sleep 15  # the daemons are up and training by now
    echo "== worker processes and their CUDA_VISIBLE_DEVICES"
    local started=0
    for child in $(pgrep -P "$worker" || true); do
      echo "   pid $child: $(tr '\0' '\n' <"/proc/$child/environ" | grep '^CUDA_VISIBLE_DEVICES=' || echo 'CUDA_VISIBLE_DEVICES unset')"
      started=$((started + 1))
    done
    grep "started worker process" "$log" | sed 's/^/   log: /' || true
    [ "$started" = "$GPUS" ] || die "$started worker processes for $GPUS GPUs (see $log)"
  fi
  wait "$worker" || { tail -40 "$log" >&2; die "the $1 worker failed"; }
  end=$(date +%s.%N)
  finished=$(( $(count "$name" complete) + $(count "$name" pruned) ))
  failed=$(count "$name" failed)
  [ "$failed" = 0 ] || { tail -40 "$log" >&2; die "$failed trials failed on $1"; }
  "$PYTHON" -c "print(f'$1: $finished trials in {($end - $start):.0f} s = {$finished * 60 / ($end - $start):.2f} trials/min')" \
    | tee -a "$WORK/summary.txt"
}

echo "== GPU run: $GPUS GPU(s), --gpus all"
run_study gpu all
kill "$SAMPLER" 2>/dev/null || true
echo "== CPU run: CUDA_VISIBLE_DEVICES=\"\""
run_study cpu none

echo "== summary (backend $KERAS_BACKEND, $TRIALS trials of up to $EPOCHS epochs each)"
cat "$WORK/summary.txt"
"$PYTHON" - "$WORK/gpu-memory.csv" <<'PY'
import collections, sys
peak = collections.defaultdict(int)
for line in open(sys.argv[1]):
    index, used = (part.strip() for part in line.split(","))
    peak[index] = max(peak[index], int(used))
for index, used in sorted(peak.items()):
    print(f"GPU {index}: peak memory used {used} MiB")
PY
