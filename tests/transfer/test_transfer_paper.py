"""Transfer tables against the papers: the published figures (one table), the "paper" columns and direction
lines, COG's compositional feature recipe end to end, and the paper-scale recipes (plan, one step on CPU)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from vrkit.cli import main
from vrkit.transfer.direction import direction_lines
from vrkit.transfer.paper_figures import FIGURES, figure, reference_models
from vrkit.transfer.recipes import RECIPES, RecipeSpec, build_stages, plan
from vrkit.transfer.table import Cell, to_markdown

PNG = b"\x89PNG\r\n\x1a\n"


pytestmark = pytest.mark.usefixtures("one_thread")


def _cell(recipe: str, model: str, condition: str, task: str, acc: float) -> Cell:
    return Cell(recipe, condition, task, model, acc / 100, 0.0, [0], [100])


def test_the_published_figures_are_the_papers():
    got = {(f.model, f.condition): f.value for f in FIGURES if f.recipe == "temporal"}
    assert got[("samnet", "canonical → hard (zero-shot)")] == 91.6
    assert got[("cog_baseline", "canonical → hard (zero-shot)")] == 65.9
    assert got[("samnet", "canonical + ft hard [full] → hard")] == 96.7
    assert got[("cog_baseline", "canonical + ft hard [full] → hard")] == 78.1
    assert got[("samnet", "canonical → canonical")] == 98.0
    assert got[("samnet", "canonical + ft hard [full] → hard")] - got[("samnet", "hard → hard")] == \
        pytest.approx(0.6)
    film = {(f.condition, f.task): f.value for f in FIGURES if f.model.startswith("FiLM")}
    assert film == {("train A", "A"): 98.3, ("train A", "B"): 75.6, ("train A + ft B [full]", "A"): 80.8,
                    ("train A + ft B [full]", "B"): 96.9}
    assert all(f.source for f in FIGURES)


def test_every_published_cell_is_one_the_recipes_build():
    """A figure is attached to a (condition, task) cell by name: a renamed condition would orphan it."""
    built = {}
    for recipe in RECIPES:
        spec = RecipeSpec(recipe, "samnet", "tiny", [0], Path("unused"),
                          world="clevr" if recipe == "feature" else "cog")
        built[recipe] = {(s.meta["condition"], s.meta["task"]) for s in build_stages(spec, 0) if s.kind == "test"}
    for f in FIGURES:
        assert (f.condition, f.task) in built[f.recipe], f


def test_tables_show_the_paper_beside_the_cell_and_every_shown_figure_is_in_the_table_of_figures():
    cells = [_cell("temporal", m, k, "all", acc) for m, k, acc in (
        ("samnet", "canonical → canonical", 95.0), ("samnet", "canonical → hard (zero-shot)", 90.0),
        ("samnet", "canonical + ft hard [full] → hard", 93.0), ("samnet", "hard → hard", 92.0),
        ("cog_baseline", "canonical → canonical", 90.0), ("cog_baseline", "canonical → hard (zero-shot)", 70.0))]
    cells += [_cell("feature", m, k, t, acc) for m, k, t, acc in (
        ("mac", "train A", "A", 80.0), ("mac", "train A", "B", 70.0), ("mac", "train A + ft B [full]", "B", 78.0))]
    md = to_markdown(cells)
    shown = 0
    for block in md.split("### ")[1:]:
        recipe, model = re.match(r"(\S+) — (\S+)", block).groups()
        rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in block.splitlines() if ln.startswith("|")]
        header = rows[0]
        for row in rows[2:]:
            for i, h in enumerate(header):
                if h == "paper" and row[i] != "—":
                    f = figure(recipe, model, header[i - 1], row[0])
                    assert f is not None and row[i] == f"{f.value:.1f}"
                    shown += 1
    assert shown == 5  # samnet: 4 temporal cells; cog_baseline: zero-shot (its fine-tuned cell is not measured)
    assert "| all | 95.0 ± 0.0 (n=100) | 98.0 | 90.0 ± 0.0 (n=100) | 91.6 |" in md
    # models vrkit does not have are reference rows; the feature table of mac has no paper column
    assert "- FiLM (FiLM paper): train A → A 98.3; train A → B 75.6" in md
    assert reference_models("feature", ["mac"])[0] == "FiLM (FiLM paper)"
    assert "| task | train A | train A + ft B [full] |" in md


def test_direction_lines_state_whether_the_papers_direction_holds():
    temporal = [_cell("temporal", m, k, "all", acc) for m, k, acc in (
        ("samnet", "canonical → canonical", 95.0), ("samnet", "canonical → hard (zero-shot)", 90.0),
        ("samnet", "canonical + ft hard [full] → hard", 93.0), ("samnet", "hard → hard", 94.0),
        ("cog_baseline", "canonical → hard (zero-shot)", 85.0))]
    lines = direction_lines("temporal", temporal)
    assert "samnet: zero-shot hard ≥ 0.9 × canonical: yes (90.0 vs 0.9 × 95.0 = 85.5)" in lines[0]
    assert any(ln.startswith("samnet: 1-epoch fine-tuning on hard recovers ≥ half") and ": yes (90.0 → 93.0" in ln
               for ln in lines)
    assert any(ln.startswith("samnet: fine-tuned ≥ trained on hard: no (93.0 vs 94.0)") for ln in lines)
    assert lines[-1].startswith("samnet zero-shot hard ≥ cog_baseline zero-shot + 10: no (90.0 vs 85.0")
    feature = [_cell("feature_cog", m, k, t, acc) for m, k, t, acc in (
        ("samnet", "train A", "A", 80.0), ("samnet", "train A", "B", 70.0),
        ("mac", "train A", "A", 60.0), ("mac", "train A", "B", 58.0),
        ("samnet", "train A + ft B [full]", "B", 76.0), ("mac", "train A + ft B [full]", "B", 58.5))]
    lines = direction_lines("feature_cog", feature)
    assert lines[0].startswith("B below A (train A) for every model: yes")
    assert lines[1].startswith("B at least 5 points below A for every model: no")
    assert lines[2].startswith("fine-tuning on B closes ≥ half of the A − B gap for every model: no")  # mac
    reasoning = [_cell("reasoning", "samnet", k, t, acc) for k, t, acc in (
        ("only t", "Basic", 90.0), ("all but t (zero-shot)", "Basic", 50.0),
        ("only t", "Compare", 60.0), ("all but t (zero-shot)", "Compare", 61.0))]
    assert direction_lines("reasoning", reasoning) == [
        "samnet: all-but-t below only-t for every task: no (Basic 50.0 vs 90.0; Compare 61.0 vs 60.0)"]


def test_cog_feature_recipe_end_to_end(tmp_path, capsys):
    """`vrkit transfer feature --world cog`: train on half A of the colour x shape pairs, test on A and B, with
    and without fine-tuning on B."""
    out = tmp_path / "feature_cog"
    assert main(["transfer", "feature", "--world", "cog", "--model", "samnet", "--scale", "tiny", "--out", str(out),
                 "--test-n", "20", "--ft-n", "16"]) == 0
    md = capsys.readouterr().out
    assert "### feature_cog — samnet" in md and "| A | " in md and "| B | " in md
    assert "B below A (train A) for every model:" in md
    seed = out / "samnet/seed0"
    train_cfg = yaml.safe_load((seed / "train_A/run/config.yaml").read_text())
    ft_cfg = yaml.safe_load((seed / "ft_full_B/run/config.yaml").read_text())
    assert train_cfg["data"]["variant"] == "canonical-A" and ft_cfg["data"]["variant"] == "canonical-B"
    for stage, variant in (("test_A_on_A", "canonical-A"), ("test_A_on_B", "canonical-B"),
                           ("test_ft_full_on_A", "canonical-A"), ("test_ft_full_on_B", "canonical-B")):
        res = json.loads((seed / stage / "results.json").read_text())
        assert (res["test_variant"], res["examples"], res["recipe"]) == (variant, 20, "feature_cog")
    assert (out / "figure_feature_cog.png").read_bytes()[:8] == PNG
    # `vrkit report` renders the table with its direction lines into the one page
    html = tmp_path / "report.html"
    assert main(["report", str(out), "--out", str(html)]) == 0
    page = html.read_text(encoding="utf-8")
    assert "feature_cog" in page and "B below A (train A) for every model" in page


@pytest.mark.parametrize(("recipe", "world"), [("temporal", "cog"), ("feature", "clevr"), ("feature", "cog"),
                                               ("reasoning", "cog"), ("reasoning", "clevr")])
@pytest.mark.parametrize("model", ["samnet", "mac", "cog_baseline", "relation_net", "cnn_lstm"])
def test_paper_scale_builds_every_recipe(recipe, world, model):
    spec = RecipeSpec(recipe, model, "paper", [0], Path("unused"), world=world)
    stages = build_stages(spec, 0)
    trains = [s for s in stages if s.kind == "train"]
    assert trains and all(s.meta["budget"] is None and s.meta["train_n"] >= 100_000 for s in trains)
    assert all(s.meta["test_n"] == 23000 for s in stages if s.kind == "test")


def test_paper_scale_dry_run_prints_the_plan_and_trains_nothing(tmp_path, capsys):
    out = tmp_path / "never"
    assert main(["transfer", "temporal", "--model", "samnet", "--scale", "paper", "--out", str(out),
                 "--seeds", "0,1", "--dry-run", "--gpu-step-seconds", "0.5"]) == 0
    text = capsys.readouterr().out
    assert not out.exists()
    assert "samnet seed 1 train    train_canonical: 5227440 examples x 40 epoch(s) = 4356200 steps of 48" in text
    assert "samnet seed 0 finetune ft_full_hard: 30000 examples x 1 epoch(s) = 625 steps of 48" in text
    assert "samnet seed 0 test     test_canonical_on_hard: 23000 test examples" in text
    steps = 2 * (2 * 4356200 + 625)
    m = re.search(r"total: (\d+) training steps \+ (\d+) step-equivalents of tests; expected ([\d.]+) GPU-hours "
                  r"at 0.5 s per step", text)
    assert m and int(m.group(1)) == steps
    assert float(m.group(3)) == pytest.approx((steps + int(m.group(2))) * 0.5 / 3600, abs=0.06)
    spec = RecipeSpec("feature", "samnet", "paper", [0], out, world="cog")
    assert any("ft_full_B: 30000 examples x 1 epoch(s)" in ln for ln in plan(spec))


def test_one_paper_scale_training_step_on_cpu(tmp_path):
    """The paper-scale recipe runs as built: the model and the training settings of the paper YAML, only the data
    made tiny (two examples, batch 2)."""
    from vrkit.transfer.finetune import train_run
    from vrkit.transfer.scale import base_config, derive

    paper = base_config("cog", "samnet", "paper")
    small = base_config("cog", "samnet", "paper", overrides=["data.batch_size=2", "data.workers=0"])
    cfg = derive(small, seed=0, train_n=2, val_n=2, max_epochs=1)
    assert cfg.model == paper.model and cfg.optim == paper.optim and cfg.data.path == "pixels"
    res = train_run(cfg, tmp_path / "run")
    assert (res["epochs"], res["steps"]) == (1, 1)
    assert Path(res["ckpt"]).is_file()
