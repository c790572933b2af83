"""ctscope: look inside the weights of Llama-family language models, from Python.

The same engine as the ``ctscope`` command line (no copy of the numerics): the
CT analysis of Paper 68 with its baselines, CT compression, perplexity and
generation. Every number is defined in docs/ct-analysis.md.

    >>> import ctscope
    >>> ck = ctscope.open("stories260K.bin")
    >>> r = ctscope.analyze(ck, K=[8, 64], basis=["gaussian", "svd"])
    >>> r.summary["fits"][0]["pooled_r2"]
    >>> df = r.to_pandas()          # one row per matrix x basis x K

Long calls release the GIL and stop on Ctrl-C (KeyboardInterrupt). Every
input problem raises ctscope.Error with the CLI's one-line message.
"""
from __future__ import annotations

import json
import os
import warnings
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

from . import _ctscope
from ._ctscope import Checkpoint, Error, __version__, basis, fit, open  # noqa: A004 (ctscope.open, like the CLI)

__all__ = ["AnalysisResult", "Checkpoint", "Error", "analyze", "basis", "compress", "fit", "generate", "open",
           "perplexity", "__version__"]

PathLike = Union[str, "os.PathLike[str]"]
DEFAULT_SEED = 0x5EED


def _names(value: Union[str, Iterable[str]]) -> List[str]:
    """'gaussian,dct' or ['gaussian', 'dct'] -> ['gaussian', 'dct']."""
    if isinstance(value, str):
        return [v for v in value.split(",")]
    return list(value)


class AnalysisResult:
    """The result of ctscope.analyze: the JSON of ``ctscope analyze --json`` (schema in docs/ct-analysis.md)."""

    def __init__(self, json_text: str) -> None:
        self._json_text = json_text
        self.data: Dict[str, Any] = json.loads(json_text)

    @property
    def summary(self) -> Dict[str, Any]:
        """Pooled numbers and the accounting over every analyzed matrix."""
        return self.data["summary"]

    @property
    def matrices(self) -> List[Dict[str, Any]]:
        """One dict per analyzed matrix: shape, weight PR, stable rank, and its fits."""
        return self.data["matrices"]

    @property
    def layers(self) -> List[Dict[str, Any]]:
        return self.data["layers"]

    @property
    def roles(self) -> List[Dict[str, Any]]:
        return self.data["roles"]

    @property
    def skipped(self) -> List[Dict[str, Any]]:
        """Tensors not fitted, each with the reason (and the K, when left out at that K only)."""
        return self.data["skipped"]

    def to_json(self) -> str:
        """The JSON text exactly as ``ctscope analyze --json`` writes it."""
        return self._json_text

    def to_pandas(self) -> "Any":
        """A pandas DataFrame with one row per matrix x basis x K (the columns of ``analyze --csv``)."""
        import pandas as pd  # optional: only this method needs it

        rows = []
        for m in self.matrices:
            for f in m["fits"]:
                rows.append({"name": m["name"], "layer": m["layer"], "role": m["role"], "rows": m["shape"][0],
                             "cols": m["shape"][1], "params": m["params"], "weight_pr": m["weight_pr"],
                             "stable_rank": m["stable_rank"], "sst": m["sst"], "basis": f["basis"], "K": f["K"],
                             "sse": f["sse"], "r2": f["r2"], "r2_svd": f["r2_svd"], "r2_null": f["r2_null"],
                             "amplitude_pr": f["amplitude_pr"], "amplitude_n95": f["amplitude_n95"],
                             "r2_bound": f["r2_bound"], "amplitude_pr_null": f["amplitude_pr_null"],
                             "amplitude_pr_ratio": f["amplitude_pr_ratio"], "trivial": f["trivial"]})
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        s = self.data["summary"]
        return f"<ctscope.AnalysisResult {self.data['model']['path']}: {s['matrices']} matrices, {s['rows']} rows>"


def analyze(model: Union[PathLike, Checkpoint], K: Optional[Sequence[int]] = None,
            basis: Union[str, Iterable[str]] = ("gaussian",), preset: Optional[str] = None,
            include: Optional[str] = None, exclude: Optional[str] = None, spectrum: bool = False,
            svd: bool = True, seed: int = DEFAULT_SEED, progress: bool = True,
            role: Union[None, str, Iterable[str]] = None, layers: Optional[str] = None,
            lanes: int = 0) -> AnalysisResult:
    """The CT analysis, as ``ctscope analyze``: fits of every selected weight row with K basis functions.

    model: a path (any format the CLI reads) or an open Checkpoint. K: the numbers of basis functions
    (sorted, each once); None: relative to the model as the CLI's default (d/256 and d/32 rounded down to
    powers of two, d = the row length of most selected rows; summary["default_K"] says which).
    basis: the first is the primary; gaussian (the paper's), dct, random, svd, universal.
    preset: None (every 2-D tensor) or "paper68". include/exclude: regexes on tensor names
    (the file's own or the canonical Hugging Face one). role: e.g. "q_proj,k_proj". layers: e.g. "0-5,10".
    spectrum: also the full eigenvalue spectrum. svd: compute the r2_svd baseline.
    progress: a progress bar on a terminal's stderr.
    lanes: matrices analyzed side by side, one per core (0: automatic, as the CLI's --lanes; the numbers
    do not depend on it).
    """
    Ks = sorted(set(int(k) for k in K)) if K is not None else []
    return AnalysisResult(_ctscope.analyze_json(model, Ks, _names(basis), preset, include, exclude,
                                                _names(role) if role else [], layers, spectrum, svd, seed, progress,
                                                int(lanes)))


def compress(model: PathLike, output: PathLike, K: int = 64, basis: str = "gaussian", preset: Optional[str] = None,
             include: Optional[str] = None, exclude: Optional[str] = None, seed: int = DEFAULT_SEED,
             progress: bool = True, role: Union[None, str, Iterable[str]] = None,
             layers: Optional[str] = None, tokenizer: Optional[PathLike] = None) -> Dict[str, Any]:
    """Write the CT-compressed model (a .ct.safetensors), as ``ctscope compress``; returns its summary.

    tokenizer: a llama2.c tokenizer.bin whose vocabulary the file carries (a GGUF carries its own)."""
    return _ctscope.compress(os.fspath(model), os.fspath(output), K, basis, preset, include, exclude,
                             _names(role) if role else [], layers, seed, progress,
                             os.fspath(tokenizer) if tokenizer is not None else None)


def perplexity(model: PathLike, text: Optional[PathLike] = None, *, text_ids: Optional[PathLike] = None,
               tokenizer: Optional[PathLike] = None, ctx: int = 512, ref: Optional[PathLike] = None,
               progress: bool = False) -> Dict[str, Any]:
    """Perplexity of a model on a text file by llama.cpp's rule, as ``ctscope eval --json``.

    A text file loses one trailing newline before tokenizing, as llama-perplexity's -f does. Besides ppl:
    "floors" (uniform_ppl = the vocabulary size, unigram_ppl = the scored tokens' own frequencies under the
    same rule), model_context, text_tokens and "notes" (a ctx beyond the model's context is run, as llama.cpp
    does, with a warning also raised as a Python ``UserWarning``). With ref (a model with the same
    vocabulary): kl_mean, kl_p99 (nats) and top1_agreement against it, and the reference's own numbers
    under "reference".
    """
    def path(p: Optional[PathLike]) -> str:
        return "" if p is None else os.fspath(p)
    r = _ctscope.perplexity(os.fspath(model), path(text), path(text_ids), path(tokenizer), ctx, path(ref), progress)
    for note in r["notes"]:
        if note.startswith("warning"):
            warnings.warn(note, stacklevel=2)
    return r


def generate(model: PathLike, prompt: str = "", *, prompt_ids: Optional[Sequence[int]] = None,
             tokenizer: Optional[PathLike] = None, n: int = 256, temperature: float = 0.0, top_p: float = 0.9,
             seed: int = 0) -> Dict[str, Any]:
    """Run the model on a prompt, as ``ctscope generate`` (greedy by default).

    n counts new tokens, like llama.cpp's -n (fewer when the model ends the text); a prompt and n that do not
    fit the model's context raise ctscope.Error. Returns ids (prompt included), text (decoded, prompt included)
    and the number of tokens generated.
    """
    ids = None if prompt_ids is None else [int(i) for i in prompt_ids]
    return _ctscope.generate(os.fspath(model), prompt, ids, "" if tokenizer is None else os.fspath(tokenizer), n,
                             temperature, top_p, seed)
