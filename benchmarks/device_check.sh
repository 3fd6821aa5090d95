#!/usr/bin/env bash
# Issue #4's GPU check on a lent device machine, as two prepared calls (docs/VERIFIER.md, "GPU check
# (#4)"). Here, once: `.venv/bin/python scripts/device_bundle.py` (builds the ignored .device/). Then:
#
#   call 1: run(command="DEVICE_CHECK_BUDGET_S=330 bash benchmarks/device_check.sh bench",
#               carry=[".device"], timeout_s=390)
#   call 2, AT ONCE (the machine stays warm for 30 s only; a fresh one costs 1-2 min plus the setup):
#           run(command="DEVICE_CHECK_BUDGET_S=S bash benchmarks/device_check.sh e2e",
#               carry=[".device"], timeout_s=S+40)   with S = min(560, budget_left_s - 45)
#   then give_back.
#
# MODE   bench  throughput table (benchmarks/bench_gpu_throughput.py): plain GPT + GPT seed at 14M
#               and 125M first (the targets), then the other seeds at 14M, then 31M, then 125M's
#               others; rows that no longer fit the budget are skipped and listed. Meanwhile, niced,
#               the e2e call's setup (wheels, data, preflight) runs in the background.
#        e2e    the 14M rung end to end: setup (skipped when call 1 did it on this machine), then
#               `verify gpt --rung 14M` with cold compile caches: tokenise, size, train 700M tokens,
#               validate, lm-eval on every example of the 10 local tasks
#        rank   issue #12: tiny then micro, on the GPU, 6 designs at a time (RANK_JOBS, RANK_RUNGS,
#               RANK_RUN_TIMEOUT_S), for the designs kept in benchmarks/evidence/rank_agreement (their
#               screens were run on a CPU); returns rank_table.txt, rank.json and rank_evidence.tar.gz
#               (unpack into benchmarks/evidence/rank_agreement and commit). A third call:
#           run(command="DEVICE_CHECK_BUDGET_S=S bash benchmarks/device_check.sh rank", carry=[".device"],
#               timeout_s=S+40)
#        all    bench (BENCH_BUDGET_S, default 240 s: about the must-have rows) then e2e with the rest
#        env    only the machine's facts (GPU, driver, versions)
# The command stops itself before DEVICE_CHECK_BUDGET_S (default 560 s, under the run tool's 600 s),
# each phase under its own `timeout`. Results go to $OUT as they are made (at most 8 files come back):
#   device_check.log   everything printed            bench.json          rows, rewritten after each row
#   setup.log          call 1's background setup      e2e.json            end-to-end summary (also if cut)
#   e2e_report.json    verify's report.json           e2e_progress.jsonl  every phase/step event, with `t`
#   summary.txt        (mode all) the closing summary
#
# Environment: DEVICE_CHECK_BUDGET_S, BENCH_BUDGET_S, BENCH_ARGS (more bench options, e.g. "--rungs
# 14M"), DEVICE_CHECK_SETUP_AHEAD=0 (no background setup in bench), DEVICE_CHECK_SMOKE=1 (CPU, tiny
# sizes, the `test` rung: how this script is tested without a GPU, see `scripts/device_bundle.py
# smoke`), OUT, PYTHON (default python3), DEVICE_SITE (wheels go there, default /tmp/site),
# DEVICE_DATA (data unpacked there, default /tmp/genesys-data).
#
# Time plan on one H100 (estimates, none measured there yet: bf16 ~800 TFLOP/s measured on such a
# card; plain-GPT reference speeds from verifier/core/train/ladder.py: 14M 3.68M, 31M 2.67M, 125M
# 0.52M tok/s; torch.compile 30-90 s per model; the machine's start, 1-2 min, comes on top):
#   env ~15 s (call 2: ~2 s)
#   bench: a row = setup ~3 s + compile (the first forward/backward) + 3 warm-up + 10 measured steps
#     14M plain GPT, GPT seed ...... ~35-55 s each (step ~0.1-0.14 s; micro-batch capped at 128)
#     125M plain GPT, GPT seed ..... ~65-90 s each (step ~1 s; micro-batch capped at 32, so that no
#                                     out-of-memory retry recompiles: eager activations ~1.1-1.25 GiB
#                                     per 2,048-token sequence, measured on CPU)
#     => the 4 must-have rows ~3.5-5 min; a budget of 330 s leaves ~300 s for rows. After them:
#     14M mamba2, retnet (~45 s each), rwkv6 (its compiled graph ~9x GPT's: ~2-3 min), ttt (eager,
#     --eager-seeds: its compiled graph is ~65x GPT's, 15k aten nodes, a compile would not finish),
#     31M, 125M's others. Each row stops at --row-timeout-s 240.
#   e2e (14M, GPT seed) ~6-9 min: setup ~40 s unless call 1 did it; data: tokenise Gutenberg
#     (72 MB, 19.7M tokens) ~20-40 s; size ~5 s; train: FLOP count + probe/compile ~45-75 s, then
#     1,336 steps x 0.095-0.14 s = 130-190 s (5.5M-3.7M tok/s); validate ~5 s; lm-eval on ~208k
#     requests ~1.5-3 min, CPU-bound in lm-eval itself (its own work on the full task set took
#     230 s on this project's 2-core box before the template cache, 62 s with it; BLiMP's 67k
#     documents most of it).
#   If the e2e is cut, e2e.json still has the phases reached, the steps done, the training speed and
#   the projected training time (e2e_progress.jsonl has every event).
set -uo pipefail
cd "$(dirname "$0")/.."

MODE=${1:-bench}
SMOKE=${DEVICE_CHECK_SMOKE:-0}
PY=${PYTHON:-python3}
OUT=${OUT:-$PWD/var/device-check}
BUDGET=${DEVICE_CHECK_BUDGET_S:-560}
SITE=${DEVICE_SITE:-/tmp/site}
DATA_ROOT=${DEVICE_DATA:-/tmp/genesys-data}
DATA="$DATA_ROOT/genesys-data"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export GENESYS_CACHE_DIR=${GENESYS_CACHE_DIR:-/tmp/genesys-cache}
export HF_HOME=${HF_HOME:-/tmp/hf-home} HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=true
export HF_DATASETS_DISABLE_PROGRESS_BARS=1 TQDM_MININTERVAL=30 # a bar line every 30 s at most
STAMP="$SITE/.device_check_setup_ok"
if [ "$SMOKE" = 1 ]; then
  # The carried wheels are for CPython 3.12: pip here checks their tags against 3.12, as the device will.
  PIP_EXTRA=(--python-version 3.12 --implementation cp --only-binary=:all:)
else
  PIP_EXTRA=()
fi

left() { echo $((BUDGET - SECONDS)); }

# run_phase NAME MAX_SECONDS CMD...: CMD under `timeout`, never past the command's budget.
run_phase() {
  local name=$1 want=$2
  shift 2
  local t=$(($(left) - 10))
  ((want < t)) && t=$want
  if ((t < 15)); then
    echo "== $name: skipped, only $(left) s of the budget left"
    return 124
  fi
  echo "== $name: limit ${t} s ($(left) s of the budget left) at $(date -u +%T)"
  local t0=$SECONDS rc=0
  timeout -k 15 "$t" "$@" || rc=$?
  echo "== $name: exit $rc after $((SECONDS - t0)) s"
  return $rc
}

phase_env() {
  echo "== env: mode=$MODE smoke=$SMOKE budget=${BUDGET}s out=$OUT $(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm,clocks.max.sm,temperature.gpu,power.limit \
    --format=csv 2>&1 || echo "(no nvidia-smi)"
  echo "cpus: $(nproc --all); $(free -g | awk '/^Mem/ {print "memory " $2 " GiB"}')"
  if [ "$MODE" = e2e ] && [ -f "$STAMP" ]; then
    echo "(versions: see the bench call's log; this machine ran its setup already)"
    return 0
  fi
  "$PY" - <<'EOF'
import importlib.metadata as md
import sys

import torch

print(f"python {sys.version.split()[0]}; torch {torch.__version__} (CUDA {torch.version.cuda}); "
      f"GPU: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}")
names = ("triton", "transformers", "tokenizers", "sentencepiece", "protobuf", "numpy", "pyarrow", "pandas",
         "fsspec", "huggingface-hub", "accelerate", "lm-eval", "datasets", "evaluate")
found = []
for name in names:
    try:
        found.append(f"{name} {md.version(name)}")
    except md.PackageNotFoundError:
        found.append(f"{name} -")
print("; ".join(found))
EOF
}

phase_setup() {
  if [ ! -d .device/wheels ] || [ ! -f .device/data.tar.xz ]; then
    echo "no .device/: build it here with 'python scripts/device_bundle.py' and name .device in carry"
    return 2
  fi
  local t0=$SECONDS want
  want=$(sha256sum .device/bundle.json | cut -c1-16)
  if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -f "$DATA/genesys-data.json" ]; then
    echo "setup already done on this machine (bundle $want: wheels in $SITE, data in $DATA, preflight OK)"
    return 0
  fi
  rm -f "$STAMP"
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
    "${PIP_EXTRA[@]}" .device/wheels/*.whl || return 3
  echo "wheels installed in $SITE ($((SECONDS - t0)) s)"
  if [ ! -f "$DATA/genesys-data.json" ]; then
    mkdir -p "$DATA_ROOT"
    "$PY" -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter='data')" \
      .device/data.tar.xz "$DATA_ROOT" || return 4
  fi
  echo "data in $DATA ($(du -sh "$DATA" | cut -f1); $((SECONDS - t0)) s so far)"
  "$PY" scripts/device_bundle.py preflight --data-dir "$DATA" || return 5
  echo "$want" >"$STAMP"
}

phase_bench() {
  local budget=${1:-$(($(left) - 30))}
  local args=(--steps 10 --warmup 3 --max-micro-batch 14M=128,31M=64,125M=32 --eager-seeds ttt
    --row-timeout-s 240)
  if [ "$SMOKE" = 1 ]; then
    args=(--device cpu --rungs 14M,125M --seeds gpt,mamba2 --steps 1 --warmup 1 --context 32 --batch-seqs 1)
  fi
  # The e2e call's setup (wheels, data, preflight: ~20-30 s of one core) runs now, niced, beside the
  # benchmark, so that the e2e call finds it done on the same (warm) machine.
  local setup_pid=""
  if [ "$MODE" = bench ] && [ -d .device/wheels ] && [ "${DEVICE_CHECK_SETUP_AHEAD:-1}" = 1 ]; then
    echo "== setup for the e2e call, in the background: \$OUT/setup.log"
    nice -n 19 timeout $(($(left) - 20)) bash "$0" __setup >"$OUT/setup.log" 2>&1 &
    setup_pid=$!
  fi
  local rc=0
  # shellcheck disable=SC2086  # BENCH_ARGS: more options, split on spaces
  run_phase bench $((budget + 30)) "$PY" benchmarks/bench_gpu_throughput.py "${args[@]}" \
    --budget-s "$budget" --json "$OUT/bench.json" ${BENCH_ARGS:-} || rc=$?
  if [ -n "$setup_pid" ]; then
    local setup_rc=0
    wait "$setup_pid" || setup_rc=$?
    echo "== background setup: exit $setup_rc ($(tail -1 "$OUT/setup.log"))"
  fi
  return $rc
}

phase_e2e() {
  run_phase setup 180 bash "$0" __setup || {
    echo "== e2e: not started (setup failed)"
    return 1
  }
  local rung=14M extra=()
  if [ "$SMOKE" = 1 ]; then
    rung=test
    extra=(--device cpu --e2e-set max_tokens=300000)
  fi
  # Cold compile caches: the end-to-end time of a first run on a fresh machine, not after the bench.
  run_phase "e2e $rung" $(($(left) - 15)) env TORCHINDUCTOR_CACHE_DIR="/tmp/inductor-e2e-$$" \
    TRITON_CACHE_DIR="/tmp/triton-e2e-$$" "$PY" benchmarks/bench_gpu_throughput.py --e2e-only \
    --e2e-rung "$rung" --data-dir "$DATA" --e2e-out "/tmp/e2e-$rung" --e2e-progress "$OUT/e2e_progress.jsonl" \
    --e2e-json "$OUT/e2e.json" "${extra[@]}"
  local rc=$?
  cp "/tmp/e2e-$rung/report.json" "$OUT/e2e_report.json" 2>/dev/null || true
  return $rc
}

phase_rank() {
  # Issue #12's rank agreement on a lent GPU: the rungs above the screen (tiny first: the goal is
  # screen vs tiny on >= 20 designs; then micro) for the designs kept in
  # benchmarks/evidence/rank_agreement, whose screens were run on a CPU and are read, not rerun.
  run_phase setup 180 bash "$0" __setup || {
    echo "== rank: not started (setup failed)"
    return 1
  }
  local rungs=${RANK_RUNGS:-tiny,micro} device=cuda jobs=${RANK_JOBS:-6} per_run=${RANK_RUN_TIMEOUT_S:-420}
  # compile: on by default on CUDA, but at these sizes its 30-60 s per model does not pay
  local work=/tmp/rank-cache evidence=/tmp/rank-evidence extra=(--set compile=false) only=()
  if [ "$SMOKE" = 1 ]; then
    rungs=test device=cpu jobs=2 per_run=300
    extra+=(--set max_tokens=300000)
    only=(--max-designs 3)
  fi
  rm -rf "$evidence" && cp -r benchmarks/evidence/rank_agreement "$evidence"
  mkdir -p "$work"
  if ! command -v bwrap >/dev/null 2>&1; then
    # The designs are the project's seed units recombined by the GP operators (no generated code);
    # each report records that it ran with rlimits only.
    echo "== rank: no bubblewrap on this machine: runs with rlimits only (GENESYS_UNSAFE_NO_SANDBOX=1)"
    export GENESYS_UNSAFE_NO_SANDBOX=1
  fi
  # tokenise the corpus once, before the jobs start side by side
  run_phase "rank: token cache" 120 "$PY" -m verifier.core verify gpt --rung "${rungs%%,*}" --out /tmp/rank-prime \
    --prepare-data --data-dir "$DATA" "${extra[@]}"
  local dev_args=() r
  for r in ${rungs//,/ }; do dev_args+=(--device "$r=$device"); done
  run_phase "rank: $rungs on $device, $jobs at a time" $(($(left) - 45)) env GENESYS_DATA_DIR="$DATA" \
    "$PY" benchmarks/bench_rank_agreement.py --out "$work" --evidence "$evidence" --loop-designs \
    --rungs "screen,$rungs" --no-run screen --jobs "$jobs" --timeout "$per_run" "${dev_args[@]}" "${extra[@]}" "${only[@]}"
  local rc=$?
  # Whatever finished, also when the phase above was cut: kept, tabled and sent back.
  timeout 40 env GENESYS_DATA_DIR="$DATA" "$PY" benchmarks/bench_rank_agreement.py --out "$work" \
    --evidence "$evidence" --loop-designs --rungs "screen,$rungs" --no-run "screen,$rungs" \
    --json "$OUT/rank.json" >"$OUT/rank_table.txt" 2>&1
  cat "$OUT/rank_table.txt"
  tar -czf "$OUT/rank_evidence.tar.gz" -C "$evidence" . && echo "== rank: evidence in \$OUT/rank_evidence.tar.gz" \
    "(unpack into benchmarks/evidence/rank_agreement)"
  return $rc
}

summary() {
  local files=()
  for f in bench.json e2e.json; do [ -f "$OUT/$f" ] && files+=("$OUT/$f"); done
  echo
  echo "==================== summary ($MODE, $SECONDS s) ===================="
  if ((${#files[@]})); then
    timeout 60 "$PY" benchmarks/bench_gpu_throughput.py --summarize "${files[@]}" 2>&1 | tee "$OUT/summary.txt"
  else
    echo "no results" | tee "$OUT/summary.txt"
  fi
  echo "files in \$OUT: $(cd "$OUT" && ls | tr '\n' ' ')"
}

main() {
  phase_env
  local rc=0
  case "$MODE" in
    env) ;;
    bench) phase_bench || rc=$? ;;
    e2e) phase_e2e || rc=$? ;;
    rank) phase_rank || rc=$? ;;
    all)
      phase_bench "${BENCH_BUDGET_S:-240}" || rc=$?
      phase_e2e || rc=$?
      ;;
    *)
      echo "usage: bash benchmarks/device_check.sh [bench|e2e|rank|all|env]"
      return 2
      ;;
  esac
  # bench and e2e end with their own summaries; `all` repeats the bench's after the e2e's output.
  [ "$MODE" = all ] && summary
  return $rc
}

# `timeout` runs programs, not shell functions: the setup phase re-enters this script.
if [ "$MODE" = __setup ]; then
  phase_setup
  exit $?
fi
main 2>&1 | tee -a "$OUT/device_check.log"
exit "${PIPESTATUS[0]}"
