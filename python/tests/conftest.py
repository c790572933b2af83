"""Shared fixtures: the real models beside the checkout, the CLI binary, and a synthetic checkpoint."""
import os
import pathlib
import subprocess

import pytest

import ctscope

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODELS = pathlib.Path(os.environ.get("CTSCOPE_SHARED_MODELS", ROOT.parent / "shared" / "models"))
BINARY = pathlib.Path(os.environ.get("CTSCOPE_BINARY", ROOT / "build" / "ctscope"))


def model(name: str) -> pathlib.Path:
    """A real model of ../shared/models, or skip with a clear message."""
    p = MODELS / name
    if not p.exists():
        pytest.skip(f"real model {name} not found in {MODELS} (tests need ../shared/models beside the checkout)")
    return p


def cli(*args: str) -> subprocess.CompletedProcess:
    """Runs the ctscope binary; fails the test on a non-zero exit."""
    # On this process's OpenBLAS kernels (ctscope respects OPENBLAS_CORETYPE; it
    # would otherwise correct a generic choice), so results compare digit for digit.
    env = dict(os.environ)
    env.setdefault("OPENBLAS_CORETYPE", ctscope._ctscope._blas_core())
    r = subprocess.run([str(BINARY), *map(str, args)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="session")
def small_synth(tmp_path_factory) -> pathlib.Path:
    """`ctscope synth --preset small`: 30 BF16 matrices, long enough to interrupt."""
    out = tmp_path_factory.mktemp("synth") / "small"
    cli("synth", out, "--preset", "small")
    return out
