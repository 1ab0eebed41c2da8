"""Property-based fuzzing of every reader (issue 8): whatever the input — COG JSON lines, CLEVR scenes and
questions, configs, checkpoints, retrieval indexes, manifests — the CLI either succeeds (exit 0, or 1 for a
checker's disagreement) or exits 2 with one line naming the file: never a traceback, never a partial output."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vrkit.cli import main

FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)

SCALAR = (st.none() | st.booleans() | st.integers(-3, 300) | st.floats(allow_nan=True, allow_subnormal=False)
          | st.text(max_size=8))
JSON = st.recursive(SCALAR,
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=8)


def _run(argv: list[str], named: Path | str | tuple, ok: tuple[int, ...] = (0,)) -> int:
    """Run the CLI; assert the property (success, or exit 2 with one line naming ``named``, or one of them)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    lines = err.getvalue().strip().splitlines()
    if rc in ok:
        return rc
    assert rc == 2, (rc, err.getvalue())
    names = named if isinstance(named, tuple) else (named,)
    assert len(lines) == 1 and lines[0].startswith("vrkit: error: "), lines
    assert any(str(n) in lines[0] for n in names), lines
    return rc


def _mutate(tree, path: list, value):
    """``tree`` with the value at ``path`` (keys/indices, taken modulo) replaced by ``value``."""
    if not path or not isinstance(tree, dict | list) or not tree:
        return value
    if isinstance(tree, dict):
        key = sorted(tree)[path[0] % len(tree)]
        return {**tree, key: _mutate(tree[key], path[1:], value)}
    i = path[0] % len(tree)
    return tree[:i] + [_mutate(tree[i], path[1:], value)] + tree[i + 1:]


MUTATION = st.tuples(st.lists(st.integers(0, 50), max_size=4), JSON)


@pytest.fixture(scope="module")
def cog_dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fuzz") / "D"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["generate", "cog", "--families", "GetColor,ExistLastShapeSameColor,GoShape",
                     "--n-per-family", "2", "--quiet", "--out", str(out)]) == 0
    return out / "train_4_3_1"


@FUZZ
@given(mutation=MUTATION, gz=st.booleans(), cut=st.integers(0, 400))
def test_cog_lines(cog_dataset, mutation, gz, cut):
    lines = gzip.decompress((cog_dataset / "cog_0.json.gz").read_bytes()).split(b"\n")
    bad = json.dumps(_mutate(json.loads(lines[0]), *mutation)).encode()
    body = b"\n".join([bad, *lines[1:]])
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / ("cog_0.json.gz" if gz else "cog_0.json")
        data = gzip.compress(body) if gz else body
        f.write_bytes(data[:len(data) - cut % max(1, len(data))] if cut % 3 == 0 else data)
        _run(["cog", "check", str(f)], f, ok=(0, 1))


@FUZZ
@given(data=st.binary(max_size=200))
def test_cog_bytes(data):
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("cog_0.json.gz", "cog_0.jsonl"):
            f = Path(tmp) / name
            f.write_bytes(data)
            _run(["cog", "check", str(f)], f, ok=(0, 1))


@FUZZ
@given(mutation=MUTATION)
def test_manifests(cog_dataset, mutation):
    name = f"manifest.{cog_dataset.name}.json"
    manifest = json.loads((cog_dataset.parent / name).read_text())
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / cog_dataset.name
        d.mkdir()
        (d / "cog_0.json.gz").write_bytes((cog_dataset / "cog_0.json.gz").read_bytes())
        (d.parent / name).write_text(json.dumps(_mutate(manifest, *mutation)))
        _run(["cog", "check", str(d)], (d, d.parent / name), ok=(0, 1))
        _run(["verify", str(d)], (d, d.parent / name), ok=(0, 2))  # verify's problems: one line each on stdout, exit 2


@pytest.fixture(scope="module")
def clevr_files(tmp_path_factory) -> tuple[dict, dict]:
    out = tmp_path_factory.mktemp("fuzz") / "C"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["generate", "clevr", "--n-images", "2", "--questions-per-image", "2", "--size", "32",
                     "--quiet", "--out", str(out)]) == 0
    return (json.loads((out / "scenes" / "CLEVR_train_scenes.json").read_text()),
            json.loads((out / "questions" / "CLEVR_train_questions.json").read_text()))


@FUZZ
@given(mutation=MUTATION, which=st.sampled_from(["scenes", "questions"]))
def test_clevr_scenes_and_questions(clevr_files, mutation, which):
    scenes, questions = clevr_files
    with tempfile.TemporaryDirectory() as tmp:
        s, q = Path(tmp) / "s.json", Path(tmp) / "q.json"
        s.write_text(json.dumps(_mutate(scenes, *mutation) if which == "scenes" else scenes))
        q.write_text(json.dumps(_mutate(questions, *mutation) if which == "questions" else questions))
        _run(["clevr", "check", "--scenes", str(s), "--questions", str(q)], (s, q), ok=(0, 1))
        png = Path(tmp) / "x.png"
        if _run(["show", "clevr", "--scenes", str(s), "--index", "0", "--out", str(png)], "s.json") == 2:
            assert not png.exists()


CONFIG_KEYS = ["seed", "run_dir", "model.dim", "model.dropout", "model.name", "data.batch_size", "data.families",
               "data.train.n", "optim.lr", "trainer.max_epochs", "trainer.max_minutes", "trainer.precision"]


@FUZZ
@given(values=st.dictionaries(st.sampled_from(CONFIG_KEYS), JSON, max_size=3), raw=st.binary(max_size=60))
def test_configs(values, raw):
    tree: dict = {}
    for key, value in values.items():
        *parents, leaf = key.split(".")
        node = tree
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "c.yaml"
        f.write_text(json.dumps(tree))  # JSON is YAML
        _run(["train", "-c", str(f), "--print-config"], f)
        f.write_bytes(raw)
        _run(["train", "-c", str(f), "--print-config"], f)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> bytes:
    from _tiny_runs import tiny_run

    return (tiny_run(tmp_path_factory.mktemp("fuzz")) / "checkpoints" / "last.ckpt").read_bytes()


@settings(FUZZ, max_examples=12)
@given(cut=st.integers(0, 999), flip=st.integers(0, 10**9))
def test_checkpoints(checkpoint, cut, flip):
    data = bytearray(checkpoint[:len(checkpoint) * cut // 1000] if cut > 50 else checkpoint)
    if cut <= 50:
        data[flip % len(data)] ^= 0xFF
    with tempfile.TemporaryDirectory() as tmp:
        ckpt, out = Path(tmp) / "x.ckpt", Path(tmp) / "res"
        ckpt.write_bytes(bytes(data))
        if _run(["eval", "--ckpt", str(ckpt), "--data", "gen:canonical:2", "--out", str(out)], ckpt) == 2:
            assert sorted(p.name for p in Path(tmp).iterdir()) == ["x.ckpt"]  # no partial output


@FUZZ
@given(npz=st.binary(max_size=100), sidecar=JSON)
def test_retrieval_indexes(npz, sidecar):
    with tempfile.TemporaryDirectory() as tmp:
        idx = Path(tmp) / "idx"
        (Path(tmp) / "idx.npz").write_bytes(npz)
        (Path(tmp) / "idx.json").write_text(json.dumps(sidecar))
        _run(["retrieve", "query", str(idx), "--image", "0"], "idx")
