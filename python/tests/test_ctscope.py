"""The Python module against things that can fail: the CLI's own JSON, numpy's
least squares and SVD, the bytes of the file, the spec's basis formula, and
Ctrl-C during a long call."""
import json
import os
import signal
import threading
import time

import numpy as np
import pytest

import ctscope
from conftest import cli, model


def without_timing(j):
    """An analysis JSON without what differs between two runs (wall times, per-stage costs, when it ran)."""
    if isinstance(j, dict):
        return {k: without_timing(v) for k, v in j.items() if k not in ("timing", "cost", "run_utc")}
    if isinstance(j, list):
        return [without_timing(v) for v in j]
    return j


@pytest.mark.parametrize("name", ["stories260K.bin", "tinyllamas-stories-260k-f32.gguf"])
def test_analyze_equals_cli_json(name, tmp_path):
    path = model(name)
    out = tmp_path / "a.json"
    cli("analyze", path, "--K", "64,8", "--basis", "gaussian,svd,universal", "--quiet", "--json", out)
    r = ctscope.analyze(str(path), K=[64, 8], basis=["gaussian", "svd", "universal"], progress=False)
    assert without_timing(json.loads(r.to_json())) == without_timing(json.loads(out.read_text()))
    assert r.summary["matrices"] == 36
    assert r.summary["fits"][1]["amplitude_params"] == 64 * r.summary["rows"]


def test_lanes_give_the_numbers_of_one_lane():
    path = str(model("stories260K.bin"))
    one = json.loads(ctscope.analyze(path, K=[2, 8], basis="gaussian,dct,random", progress=False, lanes=1).to_json())
    auto = json.loads(ctscope.analyze(path, K=[2, 8], basis="gaussian,dct,random", progress=False).to_json())
    assert one["timing"]["lanes"] == 1
    assert auto["timing"]["lanes"] == min(os.cpu_count() or 1, 16, len(auto["matrices"]))
    assert without_timing(auto) == without_timing(one)


def test_analyze_accepts_an_open_checkpoint_and_gives_a_dataframe():
    pd = pytest.importorskip("pandas")
    ck = ctscope.open(model("stories260K.bin"))
    r = ctscope.analyze(ck, K=[8], basis="gaussian,dct", preset="paper68", progress=False)
    df = r.to_pandas()
    assert isinstance(df, pd.DataFrame)
    assert len(df) == len(r.matrices) * 2
    assert set(df["basis"]) == {"gaussian", "dct"}
    m = r.matrices[0]
    assert df.iloc[0]["r2"] == m["fits"][0]["r2"]


def test_fit_equals_numpy_least_squares():
    rng = np.random.default_rng(7)
    W = rng.standard_normal((60, 48)).astype(np.float32)
    for kind in ("gaussian", "dct", "random"):
        f = ctscope.fit(W, 6, kind)
        B = ctscope.basis(kind, 6, 48)
        assert np.array_equal(f["basis"], B)
        A, *_ = np.linalg.lstsq(B.T, W.astype(np.float64).T, rcond=None)  # W^T ~ B^T A^T
        np.testing.assert_allclose(f["amplitudes"], A.T, rtol=1e-4, atol=1e-4 * np.abs(A).max())
        Wd = W.astype(np.float64)
        sse = ((Wd - A.T @ B) ** 2).sum()
        sst = ((Wd - Wd.mean()) ** 2).sum()
        assert f["r2"] == pytest.approx(1 - sse / sst, abs=1e-6)
        np.testing.assert_allclose(f["reconstruction"], A.T @ B, atol=1e-5)


def test_fit_svd_is_the_truncated_svd():
    rng = np.random.default_rng(3)
    W = (rng.standard_normal((40, 8)) @ rng.standard_normal((8, 30)) + 0.1 * rng.standard_normal((40, 30)))
    W = W.astype(np.float32)
    f = ctscope.fit(W, 5, "svd")
    s = np.linalg.svd(W.astype(np.float64), compute_uv=False)
    Wd = W.astype(np.float64)
    sst = ((Wd - Wd.mean()) ** 2).sum()
    assert f["r2"] == pytest.approx(1 - (s[5:] ** 2).sum() / sst, abs=1e-5)


def test_gaussian_basis_is_the_spec_formula():
    K, d = 8, 100
    mu = np.arange(K) * (d - 1) / (K - 1)
    sigma = d / K
    expected = np.exp(-0.5 * ((np.arange(d)[None, :] - mu[:, None]) / sigma) ** 2)
    np.testing.assert_allclose(ctscope.basis("gaussian", K, d), expected, rtol=1e-12, atol=1e-300)
    with pytest.raises(ctscope.Error, match="fitted from weights"):
        ctscope.basis("svd", K, d)


def test_tensor_equals_the_bytes_of_the_file():
    path = model("tinyllamas-stories-260k-f32.gguf")
    ck = ctscope.open(path)
    raw = path.read_bytes()
    for t in ck.tensors[:6]:
        a = ck.tensor(t["name"])
        assert list(a.shape) == t["shape"]
        expected = np.frombuffer(raw, dtype=np.float32, count=t["params"], offset=t["offset"]).reshape(t["shape"])
        assert np.array_equal(a, expected)
        assert not a.flags.writeable  # a view of the mapped file


def test_bf16_tensor_is_converted_exactly(small_synth):
    ck = ctscope.open(small_synth)
    t = next(t for t in ck.tensors if t["dtype"] == "BF16" and len(t["shape"]) == 2)
    raw = (small_synth / "model.safetensors").read_bytes()
    bits = np.frombuffer(raw, dtype=np.uint16, count=t["params"], offset=t["offset"]).astype(np.uint32) << 16
    assert np.array_equal(ck.tensor(t["name"]), bits.view(np.float32).reshape(t["shape"]))


def test_bad_file_raises_ctscope_error_naming_it(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00garbage")
    with pytest.raises(ctscope.Error, match="broken.gguf"):
        ctscope.open(bad)
    with pytest.raises(ctscope.Error, match="broken.gguf"):
        ctscope.analyze(bad, progress=False)
    with pytest.raises(ctscope.Error, match="unknown basis"):
        ctscope.fit(np.ones((4, 4), np.float32), 2, "wavelet")


def test_ctrl_c_interrupts_a_long_analysis(small_synth):
    def interrupt():
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends

    threading.Thread(target=interrupt).start()
    t0 = time.monotonic()
    try:
        ctscope.analyze(small_synth, K=[4, 8, 16, 32, 64], basis="gaussian,dct,random,svd,universal",
                        spectrum=True, progress=False)
        time.sleep(2)  # the interrupt lands here if the analysis finished first
        pytest.fail("the analysis finished before the interrupt: make it longer")
    except KeyboardInterrupt:
        elapsed = time.monotonic() - t0
    assert elapsed < 1.3, f"KeyboardInterrupt took {elapsed - 0.3:.2f} s to arrive"


def test_perplexity_equals_cli(tmp_path):
    path, tok = model("stories260K.bin"), model("tok512.bin")
    text = tmp_path / "t.txt"
    text.write_text("Once upon a time, there was a little girl named Lily. She loved to play outside. " * 6)
    out = tmp_path / "e.json"
    cli("eval", path, "--tokenizer", tok, "--text", text, "--ctx", "32", "--json", out)
    r = ctscope.perplexity(path, text, tokenizer=tok, ctx=32, ref=path)
    expected = json.loads(out.read_text())
    assert r["ppl"] == expected["ppl"]
    assert r["ppl_stderr"] == expected["ppl_stderr"]
    assert r["kl_mean"] == pytest.approx(0, abs=1e-12)  # the model against itself
    assert r["reference"]["ppl"] == expected["ppl"]


def test_generate_matches_the_independent_greedy_reference():
    ref = json.loads(model("stories260K.greedy.json").read_text())
    case = ref["cases"][0]
    r = ctscope.generate(model(case["model"]), prompt_ids=case["prompt_ids"], tokenizer=model(case["tokenizer"]),
                         n=len(case["ids"]) - len(case["prompt_ids"]))  # n counts new tokens, as llama.cpp's -n
    assert r["ids"] == case["ids"]
    assert r["generated"] == len(case["ids"]) - len(case["prompt_ids"])
    assert r["text"].startswith("Once upon a time")


def test_generate_follows_the_cli_rules_on_n():
    path, tok = model("stories260K.bin"), model("tok512.bin")
    r = ctscope.generate(path, "Once upon a time", tokenizer=tok, n=60)
    assert len(r["ids"]) == 5 + 60 and r["generated"] == 60
    with pytest.raises(ctscope.Error, match=r"do not fit the model's context of 512 \(at most -n 508\)"):
        ctscope.generate(path, "Once upon a time", tokenizer=tok, n=100000)


def test_perplexity_drops_one_trailing_newline_and_reports_floors(tmp_path):
    path, tok = model("stories260K.bin"), model("tok512.bin")
    body = "Once upon a time, there was a little girl named Lily. She loved to play outside. " * 6
    results = []
    for i, ending in enumerate(["", "\n", "\n\n"]):
        text = tmp_path / f"t{i}.txt"
        text.write_bytes((body + ending).encode())
        results.append(ctscope.perplexity(path, text, tokenizer=tok, ctx=32))
    assert results[0]["text_tokens"] == results[1]["text_tokens"]  # one trailing newline is dropped, as llama.cpp
    assert results[2]["text_tokens"] == results[0]["text_tokens"] + 1  # of two, one stays
    assert results[0]["ppl"] == results[1]["ppl"]
    floors = results[0]["floors"]
    assert floors["uniform_ppl"] == 512.0
    assert 1.0 < floors["unigram_ppl"] < 512.0
    long_text = tmp_path / "long.txt"
    long_text.write_text(body * 5)  # > 600 tokens
    with pytest.warns(UserWarning, match="trained on only 512 context tokens"):
        r = ctscope.perplexity(path, long_text, tokenizer=tok, ctx=600)
    assert r["chunks"] == 1 and r["model_context"] == 512


def test_compress_writes_a_file_the_module_opens(tmp_path):
    out = tmp_path / "m.ct.safetensors"
    s = ctscope.compress(model("stories260K.bin"), out, K=8, basis="dct", progress=False)
    assert s["fitted_matrices"] == 36 and s["amplitude_params"] == 8 * 3512
    names = {t["name"] for t in ctscope.open(out).tensors}
    assert "layers.0.attention.wq.weight.ct_amplitudes" in names


def test_compress_carries_a_tokenizer_that_generate_then_uses(tmp_path):
    out = tmp_path / "m.ct.safetensors"
    s = ctscope.compress(model("stories260K.bin"), out, K=8, basis="dct", progress=False,
                         tokenizer=model("tok512.bin"))
    assert s["vocab_tokens"] == 512
    g = ctscope.generate(out, "Once upon a time", n=8)
    assert g["text"].startswith("Once upon a time") and g["generated"] > 0
    bad = tmp_path / "tokenizer.model"
    bad.write_bytes(b"x")
    with pytest.raises(ctscope.Error, match="tokenizer.model: compress carries a llama2.c tokenizer.bin only"):
        ctscope.compress(model("stories260K.bin"), tmp_path / "n.ct.safetensors", K=8, progress=False, tokenizer=bad)
    assert not (tmp_path / "n.ct.safetensors").exists()


def test_role_and_layers_select_the_same_tensors_in_every_format():
    want = [(1, "k_proj"), (1, "q_proj"), (2, "k_proj"), (2, "q_proj")]
    by_role = ctscope.analyze(model("tinyllamas-stories-260k-f32.gguf"), K=[8], role="q_proj,k_proj", layers="1-2",
                              svd=False, progress=False)
    by_name = ctscope.analyze(model("stories260K.bin"), K=[8], include="q_proj|k_proj", layers="1-2", svd=False,
                              progress=False)
    for r in (by_role, by_name):
        assert sorted((m["layer"], m["role"]) for m in r.matrices) == want
    assert by_role.data["settings"]["selection_options"]["roles"] == ["q_proj", "k_proj"]


def test_analyze_defaults_bounds_and_nulls():
    """Issue 9: K relative to the model, each fit under its own bound, amplitude PR beside its null."""
    r = ctscope.analyze(model("stories260K.bin"), basis="gaussian,universal", progress=False)
    assert r.summary["default_K"]["d"] == 64
    assert r.data["settings"]["K"] == [1, 2]
    for m in r.matrices:
        for f in m["fits"]:
            assert f["r2"] <= f["r2_bound"] + 1e-6
            assert f["trivial"] is False
            assert f["amplitude_pr_ratio"] == pytest.approx(f["amplitude_pr"] / f["amplitude_pr_null"])
    with pytest.raises(ctscope.Error, match="nothing to fit"):
        ctscope.analyze(model("llama-2-tiny-random.gguf"), K=[64], progress=False)


def test_blas_fallback_is_named_once_at_import():
    """OpenBLAS forced onto its generic kernels as if it had chosen them: the
    module cannot restart the interpreter, so importing it warns once, naming
    the OPENBLAS_CORETYPE to set (where the CPU has AVX2 or better)."""
    import subprocess
    import sys
    flags = open("/proc/cpuinfo").read().split("\nflags")[1].split("\n")[0].split()
    expected = 1 if "avx2" in flags and "fma" in flags else 0
    code = ("import warnings\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    import ctscope\n"
            "    import ctscope\n"
            "print(sum('set OPENBLAS_CORETYPE=' in str(x.message) for x in w))\n")
    env = dict(os.environ, OPENBLAS_CORETYPE="Prescott", CTSCOPE_SIMULATE_BLAS_FALLBACK="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(expected), out.stderr
