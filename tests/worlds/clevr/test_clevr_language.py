"""CLEVR question language (issue 13): vrkit's built-in wording stays within the words the released CLEVR
questions can contain, and with the original templates and synonyms vrkit reproduces the original engine's
distributions. The word list, templates and synonyms are read in place from ../shared/data."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from vrkit.cli import main
from vrkit.worlds.clevr import io
from vrkit.worlds.clevr.questions import GeneratorConfig, generate_questions
from vrkit.worlds.clevr.templates import load_templates
from vrkit.worlds.clevr.text import SYNONYMS, load_synonyms, question_tokens, text_words


@pytest.fixture(scope="module")
def official(shared_dir) -> Path:
    return shared_dir("clevr-official-templates", "question_words.txt")


@pytest.fixture(scope="module")
def released_words(official: Path) -> set[str]:
    return set((official / "question_words.txt").read_text(encoding="utf-8").split())


def test_every_built_in_text_form_uses_released_words(released_words):
    templates = load_templates(None)
    assert len(templates) == 90
    outside = {(t.file, t.index, w) for t in templates for w in text_words(t.text) - released_words}
    assert outside == set()
    assert not [w for t in templates for w in text_words(t.text) if w.endswith(":")]  # no `word:` forms


def test_the_word_enumeration_is_exact_on_the_original_templates(official, released_words):
    """The enumeration the test above relies on: over the original templates and synonyms it yields words of the
    list only, and it does flag a word the list lacks."""
    templates = load_templates(official / "CLEVR_1.0_templates")
    synonyms = load_synonyms(official / "synonyms.json")
    assert set().union(*(text_words(t.text, synonyms) for t in templates)) <= released_words
    assert "little" in text_words(["How many <Z> things are there?"], {**SYNONYMS, "small": ("little",)})
    assert "cube:" in text_words(["Count the <S>: how many?"])


def test_generated_questions_use_released_words(clevr_sample, released_words):
    scenes = json.loads((clevr_sample / "scenes.json").read_text())["scenes"]
    qs = generate_questions(scenes, 5, config=GeneratorConfig(templates_per_image=10))
    assert len(qs) > 300 and len({q["question_family_index"] for q in qs}) > 60
    words = Counter(w for q in qs for w in question_tokens(q["question"]))
    assert set(words) - released_words == set()


def _chi2_p(a: Counter, b: Counter) -> float:
    """p-value of a chi-square test that ``a`` and ``b`` are samples of one distribution (categories whose
    expected count is below 5 in either sample merged into one)."""
    from scipy.stats import chi2_contingency

    keys = sorted(set(a) | set(b), key=str)
    na, nb = sum(a.values()), sum(b.values())
    big = [k for k in keys if min(na, nb) * (a[k] + b[k]) / (na + nb) >= 5]
    rest = [k for k in keys if k not in big]
    rows = [[a[k] for k in big] + [sum(a[k] for k in rest)], [b[k] for k in big] + [sum(b[k] for k in rest)]]
    if not rest or rows[0][-1] + rows[1][-1] == 0:
        rows = [r[:-1] for r in rows]
    return float(chi2_contingency(rows)[1])


def test_original_templates_reproduce_the_original_engine(official, clevr_sample):
    """The README's example: `vrkit clevr questions` (and `vrkit generate clevr`) with the original templates and
    synonyms. On the 60 scenes of the original-engine sample, template shares and answers agree with its 600
    questions within sampling error (chi-square, p > 0.001), and every question is in the released words."""
    scenes = json.loads((clevr_sample / "scenes.json").read_text())["scenes"]
    templates = load_templates(official / "CLEVR_1.0_templates")
    synonyms = load_synonyms(official / "synonyms.json")
    ours = [q for seed in (1, 2, 3)
            for q in generate_questions(scenes, seed, templates, GeneratorConfig(templates_per_image=10), synonyms)]
    theirs = [io.to_released(q) for q in io.read_questions(clevr_sample / "questions.json")[1]]
    assert len(ours) == 3 * len(theirs) == 1800
    shares = (Counter(q["question_family_index"] for q in ours), Counter(q["question_family_index"] for q in theirs))
    answers = (Counter(q["answer"] for q in ours), Counter(q["answer"] for q in theirs))
    assert _chi2_p(*shares) > 1e-3 and _chi2_p(*answers) > 1e-3
    skewed = Counter({k: v * 3 for k, v in answers[1].items() if k not in ("yes", "no")}) + Counter(yes=900)
    assert _chi2_p(answers[0], skewed) < 1e-3  # the test can fail: a distribution off by yes/no is caught


def test_generate_clevr_with_the_original_templates_and_synonyms(official, released_words, tmp_path):
    out = tmp_path / "C"
    assert main(["generate", "clevr", "--n-images", "3", "--questions-per-image", "4", "--size", "32", "--quiet",
                 "--templates", str(official / "CLEVR_1.0_templates"), "--synonyms", str(official / "synonyms.json"),
                 "--out", str(out)]) == 0
    qs = json.loads((out / "questions" / "CLEVR_train_questions.json").read_text())["questions"]
    assert qs and {w for q in qs for w in question_tokens(q["question"])} <= released_words
    entry = json.loads((out / "manifest.train.json").read_text())["splits"]["train"]
    assert entry["synonyms"] == str(official / "synonyms.json")


def test_a_bad_synonyms_file_is_one_line_before_any_work(tmp_path, capsys):
    bad = tmp_path / "syn.json"
    bad.write_text('{"small": "tiny"}')
    assert main(["generate", "clevr", "--n-images", "1", "--quiet", "--synonyms", str(bad),
                 "--out", str(tmp_path / "C")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"vrkit: error: {bad}: synonyms for 'small' must be a non-empty list of strings"]
    assert not (tmp_path / "C").exists()
