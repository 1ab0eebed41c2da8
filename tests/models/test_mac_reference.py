"""MAC computes what mi-prometheus's MACNetwork computes (../shared/data/mac-reference): the reference's weights
through `vrkit convert mi-prometheus`, its exact inputs (feature maps, questions already embedded), and every
output vrkit has a counterpart for, in fp32, for full and padded questions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vrkit.cli import main
from vrkit.engine.convert import convert_mi_prometheus
from vrkit.engine.evaluate import describe_origin, load_task
from vrkit.models import build_model
from vrkit.models.mi_prometheus import map_reference_mac_state, reference_mac_options
from vrkit.models.presets import preset
from vrkit.worlds.clevr.constants import ANSWERS

pytestmark = pytest.mark.usefixtures("one_thread")
TOL = {"rtol": 0.0, "atol": 1e-5}
EMBED = "question_encoder.embed."


@pytest.fixture(scope="module")
def ref_dir(shared_dir) -> Path:
    return shared_dir("mac-reference", "reference_state_dict.npz")


@pytest.fixture(scope="module")
def converted(ref_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("conv") / "mac_reference.ckpt"
    convert_mi_prometheus(ref_dir / "reference_state_dict.npz", out)
    return out


def _batch(ref_dir: Path, kind: str) -> dict[str, torch.Tensor]:
    """The reference's inputs as a vrkit batch: its embedded questions ride in ``question_embedded`` (the
    token ids then only give the shape), its feature maps in ``features`` (T = 1)."""
    z = np.load(ref_dir / "inputs.npz")
    emb = torch.from_numpy(z[f"questions_{kind}"])
    lens = torch.from_numpy(z["lengths"]) if kind == "padded" else torch.full((emb.shape[0],), emb.shape[1])
    return {"question": torch.ones(emb.shape[:2], dtype=torch.long), "question_len": lens,
            "question_embedded": emb, "features": torch.from_numpy(z["features"]).unsqueeze(1)}


def _outputs(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """vrkit's counterpart of every tensor the fixture holds, in the fixture's layout."""
    with torch.no_grad():
        out = model(batch, trace=True)
        words, q, _ = model.encode_question(batch)
        kb, _, _ = model.knowledge_base(batch)
        kb = kb[:, 0]
        kb_proj = model.read.kb(kb)
    tr = out["trace"]
    return {"logits": out["logits"][:, 0], "knowledge_base": kb.transpose(1, 2), "kb_proj": kb_proj.transpose(1, 2),
            "contextual_words": words, "question_encoding": q, "control_state": tr["control"],
            "memory_state": tr["memory"][:, 0], "read_attention": tr["read_attention"][:, 0],
            "control_attention": tr["control_attention"]}


@pytest.mark.parametrize("kind", ["full", "padded"])
def test_converted_reference_weights_give_the_reference_outputs(ref_dir: Path, converted: Path, kind: str) -> None:
    ref = {k: torch.from_numpy(v) for k, v in np.load(ref_dir / f"outputs_{kind}.npz").items()}
    model = load_task(converted).model
    mine = _outputs(model, _batch(ref_dir, kind))
    assert set(mine) == set(ref)
    for name, value in mine.items():
        torch.testing.assert_close(value, ref[name], **TOL, msg=lambda m, n=name: f"{n}: {m}")
    assert mine["logits"].argmax(-1).eq(ref["logits"].argmax(-1)).all()


def test_padded_questions_attend_to_the_padding_as_the_reference_does(ref_dir: Path, converted: Path) -> None:
    ref = np.load(ref_dir / "outputs_padded.npz")["control_attention"]
    assert ref[3, :, 5:].min() > 0  # the reference attends past a question's end (length 5) ...
    model = load_task(converted).model
    model.config.word_attention = "masked"  # ... vrkit's earlier choice does not, and changes the answers
    masked = _outputs(model, _batch(ref_dir, "padded"))
    assert masked["control_attention"][3, :, 5:].abs().max() < 1e-6
    assert (masked["logits"] - torch.from_numpy(np.load(ref_dir / "outputs_padded.npz")["logits"])).abs().max() > 1e-6


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for n, p in model.named_parameters() if not n.startswith(EMBED))


def test_parameter_counts_are_the_references(ref_dir: Path) -> None:
    opts = reference_mac_options(dict(np.load(ref_dir / "reference_state_dict.npz")))
    assert opts == {"d": 128, "steps": 4, "embedding_size": 300, "feature_channels": 1024,
                    "self_attention": False, "memory_gate": False, "num_answers": 28}
    fixture = build_model("mac", **preset("clevr_features"), **{k: v for k, v in opts.items() if k != "num_answers"})
    assert _count(fixture) == json.loads((ref_dir / "output_shapes.json").read_text())["params"] == 2_117_278
    mac_clevr = build_model("mac", **preset("clevr_features"))  # the defaults: dim 512, 12 steps, embed 300
    assert _count(mac_clevr) == 20_138_526
    vocab = preset("clevr_features")["vocab_size"]  # CLEVR's question vocabulary
    assert mac_clevr.question_encoder.embed.weight.shape == (vocab, 300)  # held by the reference's problem class
    # vrkit's earlier sizes (an option): d/2 per LSTM direction, no word projection, q of d
    assert _count(build_model("mac", **preset("clevr_features"), sizes="compact")) == 14_014_494


def test_reference_initialisation(ref_dir: Path) -> None:
    torch.manual_seed(0)
    m = build_model("mac", **preset("clevr_features"), d=64, steps=2)
    assert torch.count_nonzero(m.control.cq.bias) == 0 and torch.count_nonzero(m.knowledge[0].bias) == 0
    assert torch.count_nonzero(m.out_hidden[0].bias) == 0 and torch.count_nonzero(m.control.c0) == 0
    # Xavier-uniform bound sqrt(6 / (fan_in + fan_out)); Kaiming-uniform sqrt(6 / fan_in)
    assert m.read.combine.weight.abs().max() <= (6 / (128 + 64)) ** 0.5
    assert m.read.combine.weight.abs().max() > 0.9 * (6 / (128 + 64)) ** 0.5
    fan_in = m.knowledge[0].weight[0].numel()
    assert 0.9 * (6 / fan_in) ** 0.5 < m.knowledge[0].weight.abs().max() <= (6 / fan_in) ** 0.5
    torch.manual_seed(0)
    t = build_model("mac", **preset("clevr_features"), d=64, steps=2, init="torch")
    assert torch.count_nonzero(t.control.cq.bias) > 0


def test_variational_dropout_masks_control_and_memory_once_per_forward(ref_dir: Path) -> None:
    torch.manual_seed(0)
    m = build_model("mac", **preset("clevr_features"), d=64, steps=3, feature_channels=1024, dropout=0.5)
    batch = _batch(ref_dir, "full")
    batch = {k: v[:2] for k, v in batch.items()}
    with torch.no_grad():
        m.load_state_dict({k: v + 0.1 if k.endswith("c0") or k.endswith("m0") else v
                           for k, v in m.state_dict().items()})
        m.train()
        tr = m(batch, trace=True)["trace"]
    zero_c = tr["control"] == 0
    zero_m = tr["memory"][:, 0] == 0
    # the same units are dropped at every step (one mask per forward), about half of them
    assert (zero_c == zero_c[:, :1]).all() and (zero_m == zero_m[:, :1]).all()
    assert 0.3 < zero_c[:, 0].float().mean() < 0.7 and not torch.equal(zero_c[:, 0], zero_m[:, 0])
    m.eval()
    with torch.no_grad():
        assert (m(batch, trace=True)["trace"]["control"] != 0).all()


@pytest.mark.parametrize("option,value", [("sizes", "compact"), ("self_attention_variant", "earlier"),
                                          ("dropout_placement", "kb_output")])
def test_options_build_and_keep_vrkits_earlier_model(option: str, value: str) -> None:
    kw = {"d": 32, "steps": 2, "feature_channels": 16, "self_attention": True, option: value}
    m = build_model("mac", **preset("clevr_features"), **kw)
    if option == "sizes":
        assert m.word_proj is None and m.out_hidden[0].in_features == 64 and m.control.q_step[0].in_features == 32
    if option == "self_attention_variant":
        assert m.write.sa_mem.bias is None and m.write.sa_info is None
    batch = {"question": torch.randint(1, m.config.vocab_size, (2, 6)), "question_len": torch.tensor([6, 4]),
             "features": torch.rand(2, 1, 16, 3, 3)}
    out = m.train()(batch)
    out["logits"].sum().backward()
    assert out["logits"].shape == (2, 1, 28)


def test_the_converter_maps_answers_by_word(ref_dir: Path, tmp_path: Path) -> None:
    ref = dict(np.load(ref_dir / "reference_state_dict.npz"))
    ref_answers = list(reversed(ANSWERS))  # a reference that numbered its answers in another order
    (tmp_path / "dics.json").write_text(json.dumps({"answer_dic": {a: i for i, a in enumerate(ref_answers)}}))
    out = tmp_path / "c.ckpt"
    assert main(["convert", "mi-prometheus", str(ref_dir / "reference_state_dict.npz"), "--out", str(out),
                 "--answers", str(tmp_path / "dics.json")]) == 0
    head = load_task(out).model.head.weight
    torch.testing.assert_close(head, torch.from_numpy(ref["output_unit.classifier.2.weight"]).flip(0))


def test_converted_checkpoint_records_its_origin(converted: Path) -> None:
    task = load_task(converted)
    assert task.cfg.model.name == "mac" and task.cfg.data.path == "features"
    line = describe_origin(task)
    assert line is not None and "converted from IBM/mi-prometheus SAM-Net_v13 (models/mac" in line
    origin = task.origin
    assert origin["model"] == "mac" and len(origin["sha256"]) == 64
    assert "not mapped" in origin["answer_order"] and "seed 0" in origin["word_embedding"]


def _write(path: Path, obj: object) -> Path:
    torch.save(obj, path)
    return path


def test_converter_rejects_bad_mac_files(ref_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ref = {k: torch.from_numpy(v) for k, v in np.load(ref_dir / "reference_state_dict.npz").items()}
    missing = {k: v for k, v in ref.items() if k != "mac_unit.write.concat_layer.weight"}
    wrong = {**ref, "mac_unit.read.concat_layer.weight": torch.zeros(128, 64)}
    answers = {**ref, "output_unit.classifier.2.weight": torch.zeros(30, 128),
               "output_unit.classifier.2.bias": torch.zeros(30)}
    (tmp_path / "few.json").write_text(json.dumps(["yes", "no"]))
    cases = {
        "missing": (_write(tmp_path / "m.pt", {"state_dict": missing, "name": "MAC"}), [], "missing"),
        "unexpected": (_write(tmp_path / "u.pt", {**ref, "mac_unit.extra.weight": torch.zeros(1)}), [],
                       "unexpected"),
        "wrong-shape": (_write(tmp_path / "w.pt", wrong), [], "wrong shape: read.combine.weight"),
        "answers": (_write(tmp_path / "a.pt", answers), [], "wrong shape: head.weight (30, 128)"),
        "wrong-model": (_write(tmp_path / "x.pt", {"encoder.weight": torch.zeros(2)}), [],
                        "neither a SAMNet (VWM: vwm_cell.*) nor a MAC"),
        "answer-file": (_write(tmp_path / "f.pt", ref), ["--answers", str(tmp_path / "few.json")],
                        "not in the reference's answers"),
    }
    for name, (path, extra, needle) in cases.items():
        out = tmp_path / f"{name}.ckpt"
        assert main(["convert", "mi-prometheus", str(path), "--out", str(out), *extra]) == 2, name
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and needle in err, (name, err)
        assert not out.exists()


def test_mapping_alone_fits_a_model_built_from_the_options(ref_dir: Path) -> None:
    ref = dict(np.load(ref_dir / "reference_state_dict.npz"))
    opts = {k: v for k, v in reference_mac_options(ref).items() if k != "num_answers"}
    model = build_model("mac", **preset("clevr_features"), **opts).eval()
    before = model.question_encoder.embed.weight.clone()
    model.load_state_dict(map_reference_mac_state(ref, model.state_dict()))
    assert torch.equal(model.question_encoder.embed.weight, before)  # the embedding keeps vrkit's values
    torch.testing.assert_close(model.out_hidden[0].weight[:, :256],
                               torch.from_numpy(ref["output_unit.classifier.0.weight"])[:, 128:])
