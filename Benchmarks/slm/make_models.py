#!/usr/bin/env python3
"""Random-weight llama GGUFs for the engine's speed benchmark, the shapes of
../shared/tools/slmref/make_bench_models.py: ~100M parameters in F16, Q8_0 and Q4_K_M, ~1B
parameters in Q4_K_M. Weights are N(0, 0.02²) written as F16 with llama.cpp's gguf-py, then
quantised with llama.cpp's llama-quantize; the vocabulary is the committed fixture's
SentencePiece one, padded with unused tokens to 32000 so the embedding and output matrices
have a realistic size. Nothing here is committed: the files go to --out.

usage: PYTHONPATH=<llama.cpp>/gguf-py python3 make_models.py --out DIR --quantize <llama-quantize>
"""
import argparse
import os
import subprocess

import numpy as np
import gguf

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB_SOURCE = os.path.join(HERE, "..", "..", "fixtures", "slm", "gguf", "llama-Q4_K_M.gguf")

SHAPES = {
    "bench-100m": dict(hidden=768, layers=10, heads=12, kv=4, ffn=2048, vocab=32000, tied=False, types=["F16", "Q8_0", "Q4_K_M"]),
    "bench-1b": dict(hidden=2048, layers=16, heads=32, kv=8, ffn=8192, vocab=32000, tied=True, types=["Q4_K_M"]),
}


def vocabulary(size):
    fields = gguf.GGUFReader(VOCAB_SOURCE).fields
    tokens = list(fields["tokenizer.ggml.tokens"].contents())
    scores = list(fields["tokenizer.ggml.scores"].contents())
    types = list(fields["tokenizer.ggml.token_type"].contents())
    pad = size - len(tokens)
    return (tokens + [f"[PAD{i}]" for i in range(pad)], scores + [-1e4] * pad,
            types + [int(gguf.TokenType.UNUSED)] * pad)


def write_f16(name, c, path, seed):
    rng = np.random.default_rng(seed)
    hd = c["hidden"] // c["heads"]
    w = gguf.GGUFWriter(path, "llama")
    w.add_name(name)
    w.add_context_length(4096)
    w.add_embedding_length(c["hidden"])
    w.add_block_count(c["layers"])
    w.add_feed_forward_length(c["ffn"])
    w.add_head_count(c["heads"])
    w.add_head_count_kv(c["kv"])
    w.add_rope_dimension_count(hd)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(c["vocab"])
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    tokens, scores, types = vocabulary(c["vocab"])
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(True)

    def matrix(rows, cols):
        return (rng.standard_normal((rows, cols), dtype=np.float32) * 0.02).astype(np.float16)

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n, dtype=np.float32)).astype(np.float32)

    H, F, KV = c["hidden"], c["ffn"], c["kv"] * hd
    w.add_tensor("token_embd.weight", matrix(c["vocab"], H))
    for b in range(c["layers"]):
        p = f"blk.{b}."
        w.add_tensor(p + "attn_norm.weight", norm(H))
        w.add_tensor(p + "attn_q.weight", matrix(H, H))
        w.add_tensor(p + "attn_k.weight", matrix(KV, H))
        w.add_tensor(p + "attn_v.weight", matrix(KV, H))
        w.add_tensor(p + "attn_output.weight", matrix(H, H))
        w.add_tensor(p + "ffn_norm.weight", norm(H))
        w.add_tensor(p + "ffn_gate.weight", matrix(F, H))
        w.add_tensor(p + "ffn_up.weight", matrix(F, H))
        w.add_tensor(p + "ffn_down.weight", matrix(H, F))
    w.add_tensor("output_norm.weight", norm(H))
    if not c["tied"]:
        w.add_tensor("output.weight", matrix(c["vocab"], H))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--quantize", required=True, help="llama.cpp's llama-quantize")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for i, (name, c) in enumerate(SHAPES.items()):
        f16 = os.path.join(args.out, f"{name}-F16.gguf")
        wanted = [os.path.join(args.out, f"{name}-{t}.gguf") for t in c["types"]]
        if all(os.path.exists(p) for p in wanted):
            continue
        if not os.path.exists(f16):
            print(f"writing {f16}", flush=True)
            write_f16(name, c, f16, seed=100 + i)
        for t, path in zip(c["types"], wanted):
            if t != "F16" and not os.path.exists(path):
                print(f"quantising {path}", flush=True)
                run = subprocess.run([args.quantize, f16, path, t, "2"], capture_output=True, text=True)
                if run.returncode != 0:
                    raise SystemExit(f"llama-quantize failed on {path}:\n{run.stderr[-2000:]}")
        if "F16" not in c["types"]:
            os.remove(f16)


if __name__ == "__main__":
    main()
