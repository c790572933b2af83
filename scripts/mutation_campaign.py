#!/usr/bin/env python3
"""Mutation campaign: damaged inputs through every command, as a hostile user would.

Makes mutants never seen before (the seed is random unless --seed is given, and
printed, so a campaign - or one mutant, --only N - is reproducible) of the
project's own small inputs: the shared models (llama2.c .bin, two GGUFs), a
synthetic checkpoint (`ctscope synth`), a `.ct.safetensors`, `tok512.bin`, a
`tokenizer.model` (written by `reconstruct`), `tokenizer.json`, `config.json` and
token-id files. Mutations: bit flips, bytes set to boundary values, truncations,
edits of one size / count / offset field where the format is parsed here
(safetensors header JSON, GGUF header and tensor infos, llama2.c header,
tokenizer.bin lengths, protobuf varints, any JSON value), and splices of two
inputs of the same kind.

Each mutant runs through the commands that read it (inspect, analyze, compress,
reconstruct, generate, eval) with a wall-clock timeout, an address-space limit
and its peak RSS measured, and every exit-0 output is read back by ctscope
(compress -> inspect + reconstruct, reconstruct -> inspect, --json -> a JSON
parser). Findings:
  crash    a signal, or an exit code other than 0 and 2
  hang     still running after --timeout seconds
  memory   peak RSS above --max-rss-gb for an input under 10 MB, or exit 3 "out
           of memory" (an allocation beyond the address-space limit)
  message  exit 2 with anything but one line "ctscope: error: ..."
  unread   an exit-0 output that ctscope (or a JSON parser) then refuses
Each finding is kept in OUT/findings/NNNN-<kind>/ (the mutant, the command,
stderr); the summary goes to stdout and OUT/summary.json. Exit 1 on any finding.

  scripts/mutation_campaign.py --minutes 25               # a campaign (nice -n 10 it)
  scripts/mutation_campaign.py --seed 123 --only 57       # replay mutant 57 of campaign 123
  scripts/mutation_campaign.py --seed 1 --mutants 25      # the smoke run ctest does
"""
import argparse
import json
import os
import random
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INTERESTING_INTS = [0, 1, 2, 3, 4, 7, 8, 16, 255, 256, 4095, 65535, 65536, 2**24, 2**31 - 1, 2**31, 2**32 - 1,
                    2**32, 2**40, 2**53, 2**61, 2**62, 2**63 - 1, -1, -2, -2**31, -2**63]
INTERESTING_JSON = INTERESTING_INTS + [0.5, -0.0, 1e308, -1e308, 1e-320, "", "8", " 8", "8x", "-1", "NaN", "\u2581",
                                       "\xff", None, True, False, [], {}, [[[[[[[[[[1]]]]]]]]]], "A" * 5000]


# ----------------------------------------------------------------------------
# Fields of the binary formats: (offset, width) of integers worth editing.

def u(fmt, b, off):
    return struct.unpack_from("<" + fmt, b, off)[0]


def safetensors_parts(b):
    """(header JSON object, data bytes) or None."""
    if len(b) < 8:
        return None
    n = u("Q", b, 0)
    if n > len(b) - 8:
        return None
    try:
        return json.loads(b[8:8 + n]), b[8 + n:]
    except (ValueError, UnicodeDecodeError):
        return None


def safetensors_bytes(header, data, pad=True):
    h = json.dumps(header).encode()
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def gguf_fields(b):
    """Integer fields of a GGUF header (counts, string/array lengths, dims, types, offsets)."""
    fields = []
    try:
        if b[:4] != b"GGUF":
            return fields
        ver = u("I", b, 4)
        wide = ver >= 2
        cnt = "Q" if wide else "I"
        w = 8 if wide else 4
        fields += [(4, 4), (8, w), (8 + w, w)]
        n_tensors, n_kv = u(cnt, b, 8), u(cnt, b, 8 + w)
        off = 8 + 2 * w

        def string():
            nonlocal off
            fields.append((off, w))
            n = u(cnt, b, off)
            off += w + n

        scalar = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

        def value(t):
            nonlocal off
            if t == 8:
                string()
            elif t == 9:
                et = u("I", b, off)
                fields.append((off, 4))
                fields.append((off + 4, w))
                n = u(cnt, b, off + 4)
                off += 4 + w
                for _ in range(min(n, 100000)):
                    if off >= len(b):
                        return
                    value(et)
            else:
                if t in (4, 5, 10, 11):
                    fields.append((off, scalar[t]))
                off += scalar[t]

        for _ in range(min(n_kv, 10000)):
            string()
            fields.append((off, 4))
            t = u("I", b, off)
            off += 4
            value(t)
        for _ in range(min(n_tensors, 10000)):
            string()
            fields.append((off, 4))
            nd = u("I", b, off)
            off += 4
            for _ in range(min(nd, 8)):
                fields.append((off, w))
                off += w
            fields += [(off, 4), (off + 4, 8)]
            off += 12
    except (struct.error, IndexError, KeyError, RecursionError):
        pass  # a mutant of a mutant: the fields up to the damage
    return [f for f in fields if f[0] + f[1] <= len(b)]


def llama2c_fields(b):
    return [(4 * i, 4) for i in range(7) if 4 * i + 4 <= len(b)]


def tokenizer_bin_fields(b):
    fields, off = [(0, 4)], 4
    while off + 8 <= len(b) and len(fields) < 2000:
        fields.append((off + 4, 4))
        off += 8 + max(0, u("i", b, off + 4))
    return fields


def varints(b, start=0, end=None, depth=0):
    """(offset, length) of every protobuf varint (keys, lengths, values), nested messages included."""
    out, off, end = [], start, len(b) if end is None else end

    def varint():
        nonlocal off
        v, shift, s = 0, 0, off
        while off < end:
            c = b[off]
            off += 1
            v |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                return v, (s, off - s)
        raise ValueError

    try:
        while off < end and len(out) < 5000:
            key, where = varint()
            out.append(where)
            wire = key & 7
            if wire == 0:
                out.append(varint()[1])
            elif wire == 2:
                n, where = varint()
                out.append(where)
                if depth < 2 and n < 100000:
                    out += varints(b, off, min(off + n, end), depth + 1)
                off += n
            elif wire == 5:
                off += 4
            elif wire == 1:
                off += 8
            else:
                break
    except ValueError:
        pass
    return out


def encode_varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while v >= 0x80:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


# ----------------------------------------------------------------------------
# Mutations.

def edit_int_field(rng, b, fields):
    off, w = rng.choice(fields)
    old = int.from_bytes(b[off:off + w], "little")
    v = rng.choice(INTERESTING_INTS + [old + 1, old - 1, old * 2, old + 4096, old // 2])
    v &= (1 << (8 * w)) - 1
    return b[:off] + v.to_bytes(w, "little") + b[off + w:], f"field@{off}/{w}={v:#x}"


def json_paths(v, path=()):
    yield path
    if isinstance(v, dict):
        for k, x in v.items():
            yield from json_paths(x, path + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v[:64]):
            yield from json_paths(x, path + (i,))


def mutate_json_value(rng, root):
    """Edits one value of a JSON tree in place (or the root); returns (new root, description)."""
    paths = list(json_paths(root))
    path = rng.choice(paths)
    parent = root
    for p in path[:-1]:
        parent = parent[p]
    op = rng.random()
    if path and op < 0.15 and isinstance(parent, (dict, list)):
        del parent[path[-1]]
        return root, f"delete {list(path)}"
    if path and op < 0.25 and isinstance(parent, dict):
        parent[path[-1] + rng.choice(["", "_", "x"])] = rng.choice(INTERESTING_JSON)
        return root, f"add key beside {list(path)}"
    old = parent[path[-1]] if path else root
    if isinstance(old, (int, float)) and not isinstance(old, bool) and rng.random() < 0.5:
        new = rng.choice([old + 1, old - 1, old * 2, -old, old * 1000, old + 2**32])
    elif isinstance(old, list) and old and rng.random() < 0.5:
        new = old + old[: rng.randint(1, len(old))] if rng.random() < 0.5 else old[: rng.randrange(len(old))]
    else:
        new = rng.choice(INTERESTING_JSON)
    if not path:
        return new, "replace root"
    parent[path[-1]] = new
    return root, f"set {list(path)[-3:]} = {json.dumps(new)[:40]}"


def mutate_bytes(rng, b, kind, others):
    """One mutation of b (bytes of an input of `kind`): (new bytes, what was done)."""
    state = rng.getstate()
    try:
        return mutate_once(rng, bytes(b), kind, others)
    except (ValueError, KeyError, IndexError, TypeError, struct.error, RecursionError, OverflowError) as e:
        # A parse of an already damaged input that went wrong: a generic mutation instead.
        rng.setstate(state)
        rng.random()
        return mutate_once(rng, bytes(b), "raw", others)[0], f"raw ({type(e).__name__} in a {kind} edit)"


def mutate_once(rng, b, kind, others):
    ops = ["flip", "set", "truncate", "splice", "chunk"]
    if kind in ("safetensors", "ct"):
        ops += ["safetensors"] * 4
    if kind == "gguf":
        ops += ["fields"] * 4
    if kind == "llama2c":
        ops += ["fields"] * 3
    if kind == "tokbin":
        ops += ["fields"] * 3
    if kind == "spm":
        ops += ["varint"] * 4
    if kind == "json":
        ops += ["json"] * 6
    op = rng.choice(ops)
    if not b:
        return b"\0" * rng.randint(1, 16), "fill"
    if op == "flip":
        b = bytearray(b)
        n = rng.randint(1, 8)
        # Half of the flips land in the first 4 KB, where the headers are.
        for _ in range(n):
            i = rng.randrange(min(len(b), 4096)) if rng.random() < 0.5 else rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        return bytes(b), f"flip {n} bits"
    if op == "set":
        b = bytearray(b)
        i = rng.randrange(min(len(b), 4096)) if rng.random() < 0.7 else rng.randrange(len(b))
        v = rng.choice([b"\0", b"\xff", b"\x7f", b"\x80", b"\0\0\0\0", b"\xff\xff\xff\xff", b"\0\0\0\x80", b'"', b"{"])
        b[i:i + len(v)] = v
        return bytes(b), f"set {v!r} at {i}"
    if op == "truncate":
        n = rng.randrange(len(b)) if rng.random() < 0.5 else rng.randrange(min(len(b), 4096))
        return b[:n], f"truncate to {n}"
    if op == "splice":
        o = rng.choice(others) if others else b
        i, j = rng.randrange(len(b) + 1), rng.randrange(len(o) + 1)
        return b[:i] + o[j:], f"splice {i}|{j}"
    if op == "chunk":
        i = rng.randrange(len(b))
        n = rng.randint(1, min(4096, len(b) - i))
        how = rng.choice(["dup", "del", "rand"])
        if how == "dup":
            return b[:i + n] + b[i:], f"dup {n}@{i}"
        if how == "del":
            return b[:i] + b[i + n:], f"del {n}@{i}"
        return b[:i] + bytes(rng.randrange(256) for _ in range(n)) + b[i:], f"insert {n}@{i}"
    if op == "fields":
        fields = {"gguf": gguf_fields, "llama2c": llama2c_fields, "tokbin": tokenizer_bin_fields}[kind](b)
        # Favour the counts (the first fields) and, in a GGUF, the tensor infos (the last).
        if fields:
            r = rng.random()
            fields = fields[:8] if r < 0.35 else fields[-60:] if r < 0.7 else fields
            return edit_int_field(rng, b, fields)
    if op == "varint":
        vs = varints(b)
        if vs:
            off, n = rng.choice(vs)
            old = int.from_bytes(b[off:off + 1], "little") & 0x7F
            v = rng.choice(INTERESTING_INTS + [old + 1, old + 128, 2**35])
            return b[:off] + encode_varint(v) + b[off + n:], f"varint@{off}={v}"
    if op == "json":
        try:
            root = json.loads(b)
            root, what = mutate_json_value(rng, root)
            return json.dumps(root).encode(), what
        except (ValueError, UnicodeDecodeError, RecursionError):
            pass
    if op == "safetensors":
        parts = safetensors_parts(b)
        if parts:
            header, data = parts
            meta = header.get("__metadata__")
            if kind == "ct" and isinstance(meta, dict) and meta and rng.random() < 0.5:
                # The .ct metadata: string values, some of them JSON documents.
                k = rng.choice(sorted(meta))
                try:
                    inner, what = mutate_json_value(rng, json.loads(meta[k]))
                    meta[k] = json.dumps(inner)
                except (ValueError, TypeError):
                    v = rng.choice(INTERESTING_JSON)
                    meta[k] = v if isinstance(v, str) else json.dumps(v)
                    what = "set"
                return safetensors_bytes(header, data), f"ct metadata {k}: {what}"
            names = [k for k in header if k != "__metadata__"]
            if names and rng.random() < 0.6:
                t = header[rng.choice(names)]
                if isinstance(t, dict):
                    key = rng.choice(["shape", "data_offsets", "dtype"])
                    v = t.get(key)
                    if isinstance(v, list) and v and rng.random() < 0.8:
                        i = rng.randrange(len(v))
                        v[i] = rng.choice(INTERESTING_INTS + [v[i] + 1, v[i] - 1, v[i] * 2])
                    else:
                        t[key] = rng.choice(["F32", "BF16", "F16", "I8", "U8", "F64", "I64", "BOOL", "X"] +
                                            INTERESTING_JSON[:5])
                    return safetensors_bytes(header, data, pad=rng.random() < 0.8), f"tensor {key}"
            header, what = mutate_json_value(rng, header)
            if not isinstance(header, dict):
                return json.dumps(header).encode(), "header not an object"
            return safetensors_bytes(header, data, pad=rng.random() < 0.8), f"header {what}"
    return mutate_once(rng, b, "raw", others)  # the op did not apply: a generic one


# ----------------------------------------------------------------------------
# Running ctscope.

class Runner:
    def __init__(self, ctscope, timeout, as_limit_gb, max_rss_gb):
        self.ctscope, self.timeout = ctscope, timeout
        self.as_limit = int(as_limit_gb * 2**30)
        self.max_rss_kb = int(max_rss_gb * 2**20)
        self.env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", CTSCOPE_THREADS="1")

    def _limits(self):
        resource.setrlimit(resource.RLIMIT_AS, (self.as_limit, self.as_limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    def run(self, args, cwd):
        """(exit code or -signal or None on timeout, stderr, peak RSS in KB, seconds)."""
        with tempfile.TemporaryFile() as err:
            t0 = time.monotonic()
            p = subprocess.Popen([self.ctscope] + [str(a) for a in args], cwd=cwd, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=err, env=self.env, preexec_fn=self._limits,
                                 start_new_session=True)
            timed_out = []

            def kill():
                timed_out.append(True)
                os.killpg(p.pid, signal.SIGKILL)

            timer = threading.Timer(self.timeout, kill)
            timer.start()
            _, status, ru = os.wait4(p.pid, 0)
            timer.cancel()
            p.returncode = 0  # reaped here
            err.seek(0)
            text = err.read(20000).decode(errors="replace")
        code = None if timed_out else (os.waitstatus_to_exitcode(status))
        return code, text, ru.ru_maxrss, time.monotonic() - t0


def prepare_bases(ctscope, work, models):
    """The inputs to mutate: {name: (kind, path)}, and the fixed helper files."""
    base = work / "base"
    base.mkdir(parents=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")

    def ct(*args):
        subprocess.run([ctscope] + [str(a) for a in args], check=True, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    ct("synth", base / "tiny", "--preset", "tiny")
    ct("synth", base / "sharded", "--preset", "tiny", "--shard-size", "150000")
    ct("compress", base / "tiny", "-o", base / "tiny.ct.safetensors", "--K", "4", "--basis", "universal", "-q")
    text = (ROOT / "tests" / "data" / "story.txt").read_text()[:1200]
    (base / "story.txt").write_text(text)
    # Token ids of "Once upon a time ..." in tok512.bin, more than one context of 64.
    ids = [1, 403, 407, 261, 378] + [(7 * i) % 500 + 3 for i in range(95)]
    (base / "ids.json").write_text(json.dumps(ids))
    (base / "ids.txt").write_text("\n".join(map(str, ids)) + "\n")
    bases = {
        "tiny/model.safetensors": ("safetensors", base / "tiny" / "model.safetensors"),
        "tiny/config.json": ("json", base / "tiny" / "config.json"),
        "sharded/model.safetensors.index.json": ("json", base / "sharded" / "model.safetensors.index.json"),
        "sharded/model-00002-of-00003.safetensors": ("safetensors",
                                                     base / "sharded" / "model-00002-of-00003.safetensors"),
        "tiny.ct.safetensors": ("ct", base / "tiny.ct.safetensors"),
        "ids.json": ("json", base / "ids.json"),
        "ids.txt": ("raw", base / "ids.txt"),
        "tokenizer-sp.json": ("json", ROOT / "fuzz" / "seeds" / "tokenizer-sentencepiece-style.json"),
    }
    if models.is_dir():
        shutil.copy(models / "tok512.bin", base / "tok512.bin")
        shutil.copy(models / "stories260K.bin", base / "stories260K.bin")
        ct("compress", models / "stories260K.bin", "--tokenizer", models / "tok512.bin", "-o",
           base / "stories.ct.safetensors", "--K", "8", "-q")
        ct("reconstruct", base / "stories.ct.safetensors", "-o", base / "stories-dense")
        shutil.copy(models / "llama-2-tiny-random.gguf", base / "tiny-random.gguf")  # vocabulary 32000
        bases.update({
            "stories260K.bin": ("llama2c", base / "stories260K.bin"),
            "tok512.bin": ("tokbin", base / "tok512.bin"),
            "tinyllamas.gguf": ("gguf", models / "tinyllamas-stories-260k-f32.gguf"),
            "tiny-random.gguf": ("gguf", models / "llama-2-tiny-random.gguf"),
            "stories.ct.safetensors": ("ct", base / "stories.ct.safetensors"),
            "tokenizer.model": ("spm", base / "stories-dense" / "tokenizer.model"),
            "tokenizer-bl.json": ("json", ROOT / "fuzz" / "seeds" / "tokenizer-byte-level.json"),
        })
    else:
        print(f"campaign: {models} not found: mutating the synthetic inputs only")
    return base, bases


def plan(name, m, base, out):
    """The command lines (lists) that read mutant `m` of input `name`; `out` is a scratch directory."""
    text, ids = base / "story.txt", base / "ids.json"
    model_cmds = [
        ["inspect", m], ["inspect", m, "--json", out / "i.json"],
        ["analyze", m, "--K", "4", "--basis", "gaussian", "--no-svd", "--json", out / "a.json", "-q"],
        ["compress", m, "-o", out / "c.ct.safetensors", "--K", "4", "-q"],
        ["generate", m, "--prompt-ids", ids, "-n", "3"],
        ["eval", m, "--text", text, "--ctx", "64", "--json", out / "e.json", "-q"],
        ["analyze", m, "--K", "2,4", "--basis", "svd,universal", "-q"],
        ["eval-compression", m, "--text", text, "--K", "4", "--basis", "gaussian,universal", "--ctx", "64",
         "--max-chunks", "1", "--json", out / "ec.json", "-q"],
        ["eval", m, "--ref", m, "--text", text, "--ctx", "64", "-q"],
    ]
    if "/" in name or name in ("stories260K.bin", "tinyllamas.gguf", "tiny-random.gguf"):
        if "/" in name:  # the model is the directory around the mutant, synthetic: no tokenizer
            model_cmds = [[m.parent if x == m else x for x in c] for c in model_cmds]
            model_cmds[4][3] = base / "ids-tiny.json"
            model_cmds[4].append("--ids")
            for c in model_cmds:
                if "--text" in c:
                    i = c.index("--text")
                    c[i:i + 2] = ["--text-ids", base / "ids-tiny.json"]
        return model_cmds
    if name.endswith(".ct.safetensors"):
        if name.startswith("tiny"):  # no vocabulary carried: token ids in and out
            ids = base / "ids-tiny.json"
            return [["inspect", m], ["reconstruct", m, "-o", out / "r"],
                    ["generate", m, "--prompt-ids", ids, "-n", "3", "--ids"],
                    ["eval", m, "--text-ids", ids, "--ctx", "64", "-q"]]
        return [["inspect", m], ["reconstruct", m, "-o", out / "r"], ["generate", m, "--prompt-ids", ids, "-n", "3"],
                ["eval", m, "--text", text, "--ctx", "64", "-q"]]
    stories = base / "stories260K.bin"
    if name in ("ids.json", "ids.txt"):
        if stories.exists():
            return [["generate", stories, "--prompt-ids", m, "-n", "3"],
                    ["eval", stories, "--text-ids", m, "--ctx", "64", "-q"]]
        tiny = base / "tiny"  # synthetic, no tokenizer: token ids out too
        return [["generate", tiny, "--prompt-ids", m, "-n", "3", "--ids"], ["eval", tiny, "--text-ids", m, "--ctx", "64", "-q"]]
    if name in ("tok512.bin", "tokenizer.model"):
        return [["generate", stories, "--tokenizer", m, "--prompt", "Once upon a time", "-n", "3"],
                ["eval", stories, "--tokenizer", m, "--text", text, "--ctx", "64", "-q"]]
    if name.startswith("tokenizer-"):
        model = base / "tiny" if name == "tokenizer-sp.json" else base / "tiny-random.gguf"
        return [["generate", model, "--tokenizer", m, "--prompt", " Hello  wörld 12345\n🙂<s>don't", "-n", "3"],
                ["eval", model, "--tokenizer", m, "--text", text, "--ctx", "64", "-q"]]
    raise KeyError(name)


def read_back(cmd, out):
    """The checks of an exit-0 run's outputs: (ctscope args, what) or ("json", path)."""
    checks = []
    for a in cmd:
        if isinstance(a, Path) and a.parent == out and a.suffix == ".json":
            checks.append(("json", a))
    if cmd[0] == "compress":
        c = out / "c.ct.safetensors"
        checks += [(["inspect", c], "inspect of compress output"),
                   (["reconstruct", c, "-o", out / "rc"], "reconstruct of compress output")]
    if cmd[0] == "reconstruct":
        checks.append((["inspect", out / "r"], "inspect of reconstruct output"))
    return checks


def strict_json(path):
    def bad(c):
        raise ValueError(f"not JSON: {c}")
    json.loads(Path(path).read_text(), parse_constant=bad)


def place(work, base, name, data):
    """The mutant `data` of input `name` in a fresh copy of its surroundings: (case directory, mutant path)."""
    case = work / "case"
    shutil.rmtree(case, ignore_errors=True)
    (case / "out").mkdir(parents=True)
    if "/" in name:  # a file of a checkpoint directory
        shutil.copytree(base / name.split("/")[0], case / name.split("/")[0])
    if name == "stories260K.bin":
        shutil.copy(base / "tok512.bin", case / "tok512.bin")
    m = case / name
    m.write_bytes(data)
    return case, m


def check_baseline(runner, work, base, bases, names):
    """Every command line the campaign runs succeeds on the unmutated inputs (else it tests usage errors)."""
    for name in names:
        case, m = place(work, base, name, bases[name][1].read_bytes())
        for cmd in plan(name, m, base, case / "out"):
            code, err, _, _ = runner.run(cmd, case)
            if code != 0:
                sys.exit(f"campaign: the unmutated {name} fails: ctscope {' '.join(map(str, cmd))}: {err}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ctscope", default=str(ROOT / "build" / "ctscope"))
    ap.add_argument("--models", default=str(ROOT.parent / "shared" / "models"))
    ap.add_argument("--seed", type=int, help="campaign seed (default: random, printed)")
    ap.add_argument("--mutants", type=int, default=0, help="stop after this many mutants (0: --minutes decides)")
    ap.add_argument("--minutes", type=float, default=0, help="stop starting mutants after this long")
    ap.add_argument("--only", type=int, help="run only mutant N of the campaign (to replay a finding)")
    ap.add_argument("--timeout", type=float, default=20, help="seconds per command (default 20)")
    ap.add_argument("--as-limit-gb", type=float, default=2.5,
                    help="address-space limit of each run (default 2.5: a run needs ~0.2 GB of address space, "
                    "so an allocation of more than ~2.3 GB fails and is a finding)")
    ap.add_argument("--max-rss-gb", type=float, default=2, help="peak RSS that counts as a finding (default 2)")
    ap.add_argument("--out", help="where findings and summary.json go (default: a new /tmp directory, removed "
                    "when there is no finding)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch files")
    a = ap.parse_args()
    if not a.mutants and not a.minutes and a.only is None:
        ap.error("give --mutants N, --minutes M or --only N")
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(2**32)
    print(f"campaign seed {seed} (replay: {Path(sys.argv[0]).name} --seed {seed} ...)", flush=True)
    out = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix=f"ctscope-mutation-{seed}-"))
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ctscope-mc-work-"))
    runner = Runner(a.ctscope, a.timeout, a.as_limit_gb, a.max_rss_gb)
    try:
        base, bases = prepare_bases(a.ctscope, work, Path(a.models))
        vocab = json.loads((base / "tiny" / "config.json").read_text())["vocab_size"]
        (base / "ids-tiny.json").write_text(json.dumps([1, 3, vocab - 1] + [(5 * i) % vocab for i in range(97)]))
        if not (base / "stories260K.bin").exists():  # the token-id mutants then run on the synthetic model
            ids = [i % vocab for i in json.loads((base / "ids.json").read_text())]
            (base / "ids.json").write_text(json.dumps(ids))
            (base / "ids.txt").write_text("\n".join(map(str, ids)) + "\n")
        originals = {n: p.read_bytes() for n, (_, p) in bases.items()}
        names = sorted(bases)
        check_baseline(runner, work, base, bases, names)
        stats = {"runs": 0, "mutants": 0, "exit": {}, "commands": {}, "findings": [], "max_rss_mb": 0,
                 "slowest_s": 0.0}
        t_end = time.monotonic() + a.minutes * 60 if a.minutes else None
        i = -1
        while True:
            i += 1
            if a.only is not None:
                if i > a.only:
                    break
                if i != a.only:
                    continue
            elif (a.mutants and i >= a.mutants) or (t_end and time.monotonic() > t_end):
                break
            rng = random.Random(f"{seed}:{i}")
            name = rng.choice(names)
            kind, src = bases[name]
            others = [originals[n] for n in names if bases[n][0] == kind]
            data, what = originals[name], []
            for _ in range(rng.choice([1, 1, 1, 2, 3])):
                data, w = mutate_bytes(rng, data, kind, others)
                what.append(w)
            case, m = place(work, base, name, data)
            scratch = case / "out"
            stats["mutants"] += 1
            cmds = plan(name, m, base, scratch)
            for cmd in rng.sample(cmds, k=min(len(cmds), 2)):
                queue = [(cmd, None)]
                while queue:
                    args, check = queue.pop(0)
                    if args == "json":
                        try:
                            strict_json(check)
                        except (ValueError, UnicodeDecodeError) as e:
                            record(out, stats, i, name, what, data, cmd, "unread", f"{check.name}: {e}")
                        continue
                    code, err, rss_kb, secs = runner.run(args, case)
                    stats["runs"] += 1
                    stats["commands"][args[0]] = stats["commands"].get(args[0], 0) + 1
                    stats["exit"][str(code)] = stats["exit"].get(str(code), 0) + 1
                    stats["max_rss_mb"] = max(stats["max_rss_mb"], rss_kb // 1024)
                    stats["slowest_s"] = max(stats["slowest_s"], round(secs, 2))
                    shown = " ".join(str(x).replace(str(case), "CASE") for x in args)
                    if code is None:
                        record(out, stats, i, name, what, data, shown, "hang", err)
                    elif code == 3 and "out of memory" in err:
                        record(out, stats, i, name, what, data, shown, "memory", err)
                    elif code not in (0, 2):
                        record(out, stats, i, name, what, data, shown, "crash", f"exit {code}\n{err}")
                    elif rss_kb > runner.max_rss_kb and len(data) < 10 * 2**20:
                        record(out, stats, i, name, what, data, shown, "memory", f"peak RSS {rss_kb // 1024} MB")
                    elif code == 2 and (err.count("\n") != 1 or not err.startswith("ctscope: error: ")):
                        record(out, stats, i, name, what, data, shown, "message", err[:2000])
                    elif code != 0 and check:
                        record(out, stats, i, name, what, data, shown, "unread", f"{check}: {err}")
                    elif code == 0 and not check:
                        queue += [(c, w) if c != "json" else ("json", w) for c, w in read_back(args, scratch)]
            if stats["mutants"] % 100 == 0:
                print(f"  {stats['mutants']} mutants, {stats['runs']} runs, {len(stats['findings'])} findings",
                      flush=True)
        stats["seed"] = seed
        (out / "summary.json").write_text(json.dumps(stats, indent=1))
        exits = ", ".join(f"exit {k}: {v}" for k, v in sorted(stats["exit"].items()))
        print(f"seed {seed}: {stats['mutants']} mutants, {stats['runs']} runs ({exits}); "
              f"max RSS {stats['max_rss_mb']} MB, slowest run {stats['slowest_s']} s; "
              f"{len(stats['findings'])} findings" + (f" in {out}/findings" if stats["findings"] else ""))
        for f in stats["findings"]:
            print(f"  {f}")
        if not stats["findings"] and not a.out:
            shutil.rmtree(out, ignore_errors=True)  # nothing to keep (a clean smoke run leaves nothing in /tmp)
        return 1 if stats["findings"] else 0
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


def record(out, stats, i, name, what, data, cmd, kind, detail):
    d = out / "findings" / f"{i:05d}-{kind}"
    d.mkdir(parents=True, exist_ok=True)
    (d / ("mutant-" + Path(name).name)).write_bytes(data)
    (d / "finding.txt").write_text(f"{kind}: mutant {i} of {name} ({'; '.join(what)})\n$ ctscope {cmd}\n{detail}\n")
    stats["findings"].append(f"{kind}: mutant {i} of {name} ({'; '.join(what)}): ctscope {cmd}: "
                             f"{detail.strip().splitlines()[-1][:200] if detail.strip() else ''}")


if __name__ == "__main__":
    sys.exit(main())
