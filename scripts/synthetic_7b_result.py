#!/usr/bin/env python3
"""Writes an `analyze --json` result of Llama-2-7B's size, with made-up numbers,
to measure how the HTML report copes with a large result (README, "Report"):
32 layers x 7 roles + embed_tokens + lm_head = 226 matrices, each fitted at
5 K and 5 bases. --spectrum adds a 4096-value eigenvalue spectrum per matrix.

    scripts/synthetic_7b_result.py out/7b.json [--spectrum]
    ./build/ctscope report out/7b.json -o out/7b.html
"""
import argparse
import json
import math
import random

ROLES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
BASES = ["gaussian", "dct", "random", "svd", "universal"]
KS = [8, 16, 32, 64, 128]
D, FF, LAYERS, VOCAB = 4096, 11008, 32, 32000


def shape(role):
    return {"k_proj": [D, D], "v_proj": [D, D], "gate_proj": [FF, D], "up_proj": [FF, D], "down_proj": [D, FF]}.get(role, [D, D])


def fit(rng, basis, K, d):
    bound = min(1.0, 0.1 + 0.8 * math.log(K) / math.log(d))
    r2 = {"svd": bound, "universal": 0.95 * bound, "random": K / d}.get(basis, K / d * (1 + rng.random()))
    pr_null = K if basis in ("svd", "universal", "dct") else K * 0.4
    pr = pr_null * (0.3 + 0.5 * rng.random())
    return {"basis": basis, "K": K, "sse": 1.0 - r2, "r2": r2, "r2_svd": bound, "r2_bound": bound, "r2_null": K / d,
            "amplitude_pr": pr, "amplitude_pr_null": pr_null, "amplitude_pr_ratio": pr / pr_null,
            "amplitude_n95": max(1, int(0.4 * K * (1 + rng.random()))), "trivial": False}


def group_fits(fits):
    out = []
    for basis in BASES:
        for K in KS:
            f = [x for x in fits if x["basis"] == basis and x["K"] == K]
            mean = lambda k: sum(x[k] for x in f) / len(f)
            out.append({"basis": basis, "K": K, "matrices": len(f), "trivial": 0, "pooled_r2": mean("r2"),
                        "pooled_r2_nontrivial": mean("r2"), "pooled_r2_svd": mean("r2_svd"),
                        "pooled_r2_bound": mean("r2_bound"), "pooled_r2_null": mean("r2_null"), "mean_r2": mean("r2"),
                        "mean_amplitude_pr": mean("amplitude_pr"), "mean_amplitude_pr_null": mean("amplitude_pr_null"),
                        "mean_amplitude_pr_ratio": mean("amplitude_pr_ratio"),
                        "amplitude_n95_min": min(x["amplitude_n95"] for x in f),
                        "amplitude_n95_max": max(x["amplitude_n95"] for x in f)})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--spectrum", action="store_true")
    a = ap.parse_args()
    rng = random.Random(7)
    mats = [("model.embed_tokens.weight", None, "embed_tokens", [VOCAB, D])]
    mats += [(f"model.layers.{l}.{'mlp' if r in ROLES[4:] else 'self_attn'}.{r}.weight", l, r, shape(r))
             for l in range(LAYERS) for r in ROLES]
    mats.append(("lm_head.weight", None, "lm_head", [VOCAB, D]))
    matrices = []
    for name, layer, role, (n, d) in mats:
        pr = 100 + 8 * (layer or 0) + 40 * rng.random()
        m = {"name": name, "layer": layer, "role": role, "dtype": "F16", "shape": [n, d], "params": n * d, "sst": 1.0,
             "weight_pr": pr, "stable_rank": pr / 3, "fits": [fit(rng, b, K, d) for b in BASES for K in KS]}
        if a.spectrum:
            eig = [math.exp(-i / (300 + 50 * rng.random())) for i in range(min(n, d))]
            m["spectrum"] = {"weight_n95": 900, "weight_pr_sv": pr * 2, "eigenvalues": eig}
        matrices.append(m)
    every = [f for m in matrices for f in m["fits"]]
    rows = sum(m["shape"][0] for m in matrices)
    analyzed = sum(m["params"] for m in matrices)
    summary = group_fits(every)
    for s in summary:
        s.update({"rows": rows, "analyzed_params": analyzed, "amplitude_params": s["K"] * rows, "basis_params": 0,
                  "compression_paper": 6738415616 / (s["K"] * rows), "compression_analyzed": analyzed / (s["K"] * rows),
                  "compression_storage": 6738415616 / (s["K"] * rows + 6738415616 - analyzed), "bound": "linear (SVD)",
                  "verdict": "synthetic"})
    result = {
        "tool": {"name": "ctscope", "version": "0.1.0", "git_commit": "", "schema_version": 1, "run_utc": "synthetic"},
        "model": {"path": "/synthetic/llama-2-7b-sized", "format": "safetensors", "total_params": 6738415616,
                  "tensors": 291, "files": []},
        "settings": {"K": KS, "basis": "gaussian", "bases": BASES, "selection": "every 2-D tensor", "seed": 1,
                     "svd_baseline": True, "spectrum": a.spectrum},
        "units": {}, "matrices": matrices, "skipped": [],
        "layers": [{"layer": l, "matrices": 7, "weight_pr": sum(m["weight_pr"] for m in matrices if m["layer"] == l) / 7,
                    "fits": group_fits([f for m in matrices if m["layer"] == l for f in m["fits"]])} for l in range(LAYERS)],
        "roles": [{"role": r, "matrices": sum(1 for m in matrices if m["role"] == r),
                   "weight_pr": 0, "fits": group_fits([f for m in matrices if m["role"] == r for f in m["fits"]])}
                  for r in ROLES + ["embed_tokens", "lm_head"]],
        "summary": {"rows": rows, "analyzed_params": analyzed, "matrices": len(matrices), "fits": summary},
        "timing": {"wall_s": 0, "peak_rss_mb": 0},
    }
    with open(a.out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
