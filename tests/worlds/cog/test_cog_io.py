"""Official COG file format: byte-exact round trip, readers over layouts, one-line errors for bad input."""

from __future__ import annotations

import gzip
import json

import pytest

from vrkit.cli import main
from vrkit.errors import InputError
from vrkit.worlds.cog import io


def test_round_trip_is_byte_identical_on_the_official_sample(cog_sample, tmp_path):
    files = sorted((cog_sample / "val_4_3_1").glob("*.json.gz")) + sorted((cog_sample / "val_8_7_10").glob("*.gz"))
    assert len(files) == 88
    for f in files:
        raw = gzip.decompress(f.read_bytes())
        exs = io.read_file(f)
        assert len(exs) == 50
        assert io.encode_lines(exs) == raw
    out = tmp_path / "x.json.gz"
    io.write_examples(out, io.read_file(files[0]))
    assert gzip.decompress(out.read_bytes()) == gzip.decompress(files[0].read_bytes())


def test_reader_accepts_official_directories_and_single_files(cog_sample):
    assert len(io.expand_paths([cog_sample])) == 88  # render_ref_*.jsonl beside them are not COG files
    assert len(io.expand_paths([cog_sample / "val_4_3_1"])) == 44
    one = cog_sample / "val_8_7_10" / "cog_Go.json.gz"
    pairs = list(io.iter_examples([one]))
    assert len(pairs) == 50 and all(p == one for p, _ in pairs)


def test_plain_jsonl_files_are_read_too(tmp_path, cog_sample):
    exs = io.read_file(cog_sample / "val_4_3_1" / "cog_Exist.json.gz")[:3]
    p = tmp_path / "cog_small.jsonl"
    p.write_text("\n".join(map(io.dumps, exs)) + "\n\n")
    assert io.read_file(p) == exs


def _write_lines(path, lines: list[str]) -> None:
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines))


GOOD = {"answers": ["true"], "epochs": 1, "family": "Exist", "question": "now red circle exist ?",
        "objects": [{"color": "red", "epochs": 0, "is_distractor": False, "location": [0.5, 0.5], "shape": "circle"}]}


@pytest.mark.parametrize("mutate, message", [
    (lambda e: e.__setitem__("family", "Teleport"), "unknown family 'Teleport'"),
    (lambda e: e["objects"][0].__setitem__("color", "pinkish"), "unknown colour 'pinkish'"),
    (lambda e: e["objects"][0].__setitem__("shape", "star"), "unknown shape 'star'"),
    (lambda e: e.__setitem__("epochs", "4"), "'epochs' must be int"),
    (lambda e: e.__setitem__("answers", ["true", "false"]), "'answers' has 2 entries"),
    (lambda e: e["objects"][0].__setitem__("location", [0.5]), "'location' must be [x, y]"),
    (lambda e: e["objects"][0].__setitem__("epochs", 3), "outside 0..0"),
    (lambda e: e.pop("question"), "missing key 'question'"),
])
def test_bad_records_name_file_and_line(tmp_path, mutate, message):
    bad = json.loads(json.dumps(GOOD))
    mutate(bad)
    p = tmp_path / "cog_bad.json.gz"
    _write_lines(p, [json.dumps(GOOD), json.dumps(GOOD), json.dumps(bad)])
    with pytest.raises(InputError) as info:
        io.read_file(p)
    assert info.value.line == 3 and str(p) in str(info.value) and message in str(info.value)


def test_malformed_json_and_truncated_gzip(tmp_path):
    p = tmp_path / "cog_x.json.gz"
    _write_lines(p, [json.dumps(GOOD), '{"answers": ['])
    with pytest.raises(InputError, match=r"cog_x.json.gz:2: malformed JSON"):
        io.read_file(p)
    whole = tmp_path / "cog_y.json.gz"
    _write_lines(whole, [json.dumps(GOOD)] * 200)
    cut = tmp_path / "cog_cut.json.gz"
    cut.write_bytes(whole.read_bytes()[:-12])
    with pytest.raises(InputError, match="corrupt or truncated gzip"):
        io.read_file(cut)
    with pytest.raises(InputError, match="no such file"):
        io.expand_paths([tmp_path / "missing.json.gz"])


@pytest.mark.parametrize("content", [b"\x1f\x8b\x08garbage", b'{"answers": 3}'])
def test_cli_reports_bad_files_in_one_line_with_exit_2(tmp_path, capsys, content):
    p = tmp_path / "cog_bad.json.gz"
    p.write_bytes(content if content.startswith(b"\x1f") else gzip.compress(content))
    assert main(["cog", "check", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(p) in err and "Traceback" not in err
