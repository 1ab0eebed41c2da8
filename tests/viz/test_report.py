"""`vrkit report`: one self-contained HTML page from a transfer results directory, a training run, an eval
JSON, bench-style JSON and explain panels; checked as text and rendered in headless Chromium."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from _tiny_runs import tiny_run

from vrkit.cli import main
from vrkit.viz._report_html import markdown

pytestmark = pytest.mark.usefixtures("one_thread")
CHROMIUM = "/usr/bin/chromium"
_DATA_URI = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def _fake_transfer(root: Path) -> None:
    """Stage results of two models (as tests/transfer/test_transfer_report.py builds), then the report files."""
    from vrkit.transfer import write_report

    accs = {("m1", 0): 0.50, ("m1", 1): 0.70, ("m2", 0): 0.90}
    for (model, seed), acc in accs.items():
        for stage, cond, a, order in (("test_only__Basic", "only t", acc, 1), ("test_all__Basic", "all tasks",
                                                                                acc / 2, 2)):
            d = root / model / f"seed{seed}" / stage
            d.mkdir(parents=True)
            (d / "results.json").write_text(json.dumps({
                "kind": "test", "recipe": "reasoning", "model": model, "seed": seed, "stage": stage,
                "condition": cond, "task": "Basic", "acc": a, "examples": 40, "order": order}))
    write_report([root])  # results.csv, results.md, figure_reasoning.png


@pytest.fixture(scope="module")
def transfer(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("transfer")
    _fake_transfer(root)
    return root


def test_page_holds_every_table_and_figure(transfer, tmp_path):
    from vrkit.engine.evaluate import evaluate, load_task, parse_data_spec, write_eval

    run = tiny_run(tmp_path)
    ev = tmp_path / "evals"
    summary = evaluate(load_task(run / "checkpoints" / "last.ckpt"), parse_data_spec(["gen:canonical:8:3"]))
    write_eval(summary, ev / "last_gen")
    (ev / "notes.md").write_text("# Notes <script>alert(1)</script>\n\nSee [the paper](https://example.org/x).\n")
    bench = tmp_path / "bench"
    bench.mkdir()
    for name, speed in (("step_a", 12.5), ("step_b", 30.25)):
        (bench / f"{name}.json").write_text(json.dumps({"model": name, "samples_per_s": speed, "threads": 2}))
    out = tmp_path / "report.html"
    assert main(["report", str(transfer), str(run), str(ev), str(bench), "--out", str(out),
                 "--explain-ckpt", str(run / "checkpoints" / "last.ckpt"), "--explain-data", "gen:canonical:6:4",
                 "--explain-n", "2"]) == 0
    html = out.read_text(encoding="utf-8")
    # the transfer table (from results.md), not repeated from results.csv
    assert "<td class=\"num\">60.0 ± 14.1 (n=40)</td>" in html and "90.0 ± 0.0 (n=40)" in html
    assert "0.600000" not in html
    images = [base64.b64decode(m) for m in _DATA_URI.findall(html)]
    assert all(im[:8] == b"\x89PNG\r\n\x1a\n" for im in images)
    assert (transfer / "figure_reasoning.png").read_bytes() in images  # the recipe figure, inlined as is
    # transfer figure + run curves + 2 explain panels
    assert len(images) >= 4 and html.count("<h3>example ") == 2
    assert "<h3>training run: " in html and "val accuracy % (frames)" in html and "<summary>config.yaml" in html
    assert "<h3>evaluation: last_gen.json</h3>" in html and "ExistColor" in html
    assert "last_gen.csv" not in html  # the eval CSV says what its JSON says
    assert "step_a.json" in html and "step_b.json" in html and "30.25" in html  # bench JSON as one table
    # self-contained and escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html
    assert not re.search(r'(src|href)\s*=\s*"(?!data:|#)', html)
    assert "url(" not in html and "@import" not in html
    assert "the paper (https://example.org/x)" in html  # a Markdown link stays text
    # the same inputs give the same bytes
    again = [tmp_path / "a.html", tmp_path / "b.html"]
    for path in again:
        assert main(["report", str(transfer), str(run), "--out", str(path)]) == 0
    assert again[0].read_bytes() == again[1].read_bytes()


def test_bad_arguments_are_one_line(tmp_path, capsys):
    missing = tmp_path / "nope"
    assert main(["report", str(missing), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert str(missing) in err and "\n" not in err
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("nothing for a report")
    assert main(["report", str(empty), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{empty}: nothing to report" in err and "\n" not in err
    assert not (tmp_path / "r.html").exists()
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "r.html"), "--explain-data", "gen:hard:2"]) == 2
    assert "--explain-ckpt" in capsys.readouterr().err


def test_markdown_subset():
    html = markdown("# Title\n\n| a | b |\n|---|---:|\n| x | 1.5 |\n\n- one `code`\n- **two**\n\ntext & more\n")
    assert "<h3>Title</h3>" in html
    assert "<th>a</th><th>b</th>" in html and '<td>x</td><td class="num">1.5</td>' in html
    assert "<li>one <code>code</code></li><li><strong>two</strong></li>" in html
    assert "<p>text &amp; more</p>" in html


def _chromium() -> str:
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("headless Chromium is required in CI: apt-get install -y chromium")
    pytest.skip("chromium is not installed (apt-get install -y chromium)")


def _run_chromium(exe: str, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp / 'profile'}"]
    env = {**os.environ, "HOME": str(tmp)}
    return subprocess.run([exe, *flags, *args], capture_output=True, text=True, timeout=120, env=env, check=False)


def test_renders_in_headless_chromium(transfer, tmp_path):
    from PIL import Image

    exe = _chromium()
    out = tmp_path / "report.html"
    assert main(["report", str(transfer), "--out", str(out)]) == 0
    shot = tmp_path / "shot.png"
    res = _run_chromium(exe, tmp_path, "--dump-dom", f"--screenshot={shot}", "--window-size=1200,2000",
                        out.resolve().as_uri())
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    dom = res.stdout  # the DOM after parsing: tables and images are there
    assert "60.0 ± 14.1 (n=40)" in dom and dom.count("<table>") == out.read_text(encoding="utf-8").count("<table>")
    assert dom.count("<img ") == 1
    with Image.open(shot) as im:
        px = np.asarray(im.convert("RGB"))
    assert px.shape[:2] == (2000, 1200)
    colours = np.unique(px.reshape(-1, 3), axis=0)
    assert len(colours) > 50  # text, tables and the figure, not a blank page
    # the figure's bars (matplotlib's first colour, used nowhere in the page's CSS) were decoded and drawn
    blue = np.all(np.abs(px.astype(int) - (31, 119, 180)) <= 6, axis=-1)
    assert blue.sum() > 500
