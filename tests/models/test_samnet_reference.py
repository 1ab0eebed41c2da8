"""SAMNet computes what the reference implementation computes (../shared/data/samnet-reference): the reference's
weights through `vrkit convert mi-prometheus`, its inputs, and every output vrkit has a counterpart for, in fp32."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vrkit.cli import main
from vrkit.engine.convert import convert_mi_prometheus
from vrkit.engine.evaluate import load_task
from vrkit.models import build_model
from vrkit.models.mi_prometheus import REFERENCE_INPUT_VOCAB, map_reference_state
from vrkit.models.presets import PRESETS
from vrkit.worlds.cog.constants import INPUT_INDEX

pytestmark = pytest.mark.usefixtures("one_thread")
TOL = {"rtol": 0.0, "atol": 1e-5}


@pytest.fixture(scope="module")
def ref_dir(shared_dir) -> Path:
    return shared_dir("samnet-reference", "reference_state_dict.npz")


@pytest.fixture(scope="module")
def converted(ref_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The fixture's reference run was fed the [0, 1] frames of inputs.npz as they are: input scale 1.
    out = tmp_path_factory.mktemp("conv") / "reference.ckpt"
    convert_mi_prometheus(ref_dir / "reference_state_dict.npz", out, input_scale=1.0)
    return out


def _batch(ref_dir: Path, kind: str) -> dict[str, torch.Tensor]:
    z = np.load(ref_dir / "inputs.npz")
    ids = torch.from_numpy(z[f"questions_{kind}"])
    to_vrkit = torch.tensor([INPUT_INDEX[w] for w in REFERENCE_INPUT_VOCAB])  # reference id → vrkit id
    return {"frames": torch.from_numpy(z["frames"]), "question": to_vrkit[ids],
            "question_len": torch.from_numpy(z["lengths"])}


@pytest.mark.parametrize("cell", ["fused", "plain"])
@pytest.mark.parametrize("kind", ["full", "padded"])
def test_converted_reference_weights_give_the_reference_outputs(ref_dir: Path, converted: Path, kind: str,
                                                                cell: str) -> None:
    ref = {k: torch.from_numpy(v) for k, v in np.load(ref_dir / f"outputs_{kind}.npz").items()}
    task = load_task(converted)
    model = task.model
    assert model.cfg.cell == "fused"
    if cell == "plain":  # the same weights on the step-by-step reference path
        plain = build_model("samnet", **{**dataclasses.asdict(model.cfg), "cell": "plain"}).eval()
        plain.load_state_dict(model.state_dict())
        model = plain
    assert (type(model.reasoning_cell).__name__, type(model.controller).__name__) == {
        "fused": ("SAMCell", "Controller"), "plain": ("PlainSAMCell", "PlainController")}[cell]
    batch = _batch(ref_dir, kind)
    with torch.no_grad():
        out = model(batch, trace=True)
        words, q, _ = model.question_encoder(batch["question"], batch["question_len"])
        control, word_attn, temporal = model.controller(q, words, torch.ones_like(batch["question"], dtype=bool))
        raw = model.image_encoder(batch["frames"])
        proj = model.image_encoder.feature_proj(raw)
    tr = out["trace"]
    pairs = {
        "answer_logits": out["logits"], "contextual_words": words, "question_encoding": q,
        "control_state": control, "control_attention": word_attn, "temporal_class_weights": temporal,
        "cnn_features": raw, "projected_features": proj, "cell_va": tr["visual_attention"],
        "cell_vo": tr["visual_object"], "cell_mo": tr["memory_object"], "cell_rhd": tr["read_head"],
        "cell_im_m": tr["gates"][..., 0], "cell_mem_m": tr["gates"][..., 1], "cell_do_r": tr["gates"][..., 2],
        "cell_do_a": tr["gates"][..., 3], "cell_vwm": tr["memory"], "cell_whd": tr["write_head_after"],
    }
    for name, mine in pairs.items():
        torch.testing.assert_close(mine, ref[name], **TOL, msg=lambda m, n=name: f"{n}: {m}")
    torch.testing.assert_close(tr["control"], ref["control_state"], **TOL)
    torch.testing.assert_close(tr["word_attention"][:, 0], ref["control_attention"], **TOL)
    assert out["logits"].argmax(-1).eq(ref["answer_logits"].argmax(-1)).all()


def test_input_scale_255_is_folded_into_the_first_convolution(ref_dir: Path) -> None:
    ref = dict(np.load(ref_dir / "reference_state_dict.npz"))
    target = build_model("samnet", **PRESETS["cog_pixels"]).state_dict()
    one = map_reference_state(ref, target, input_scale=1.0)
    scaled = map_reference_state(ref, target, input_scale=255.0)
    conv = "image_encoder.cnn.net.0.weight"
    assert [k for k in one if not torch.equal(one[k], scaled[k])] == [conv]
    frames = torch.from_numpy(np.load(ref_dir / "inputs.npz")["frames"][:, 0]).double()
    bias = one["image_encoder.cnn.net.0.bias"].double()
    ref_conv = torch.nn.functional.conv2d(frames * 255, one[conv].double(), bias, padding=1)  # on 0-255 input
    ours = torch.nn.functional.conv2d(frames, scaled[conv].double(), bias, padding=1)
    torch.testing.assert_close(ours, ref_conv, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("option,value", [("visual_values", "projected"), ("question_padding", "masked")])
def test_each_option_changes_the_function(ref_dir: Path, option: str, value: str) -> None:
    ref = dict(np.load(ref_dir / "reference_state_dict.npz"))
    base = build_model("samnet", **PRESETS["cog_pixels"]).eval()
    other = build_model("samnet", **PRESETS["cog_pixels"], **{option: value}).eval()
    for m in (base, other):
        m.load_state_dict(map_reference_state(ref, m.state_dict(), input_scale=1.0))
    batch = _batch(ref_dir, "padded")
    with torch.no_grad():
        diff = (base(batch)["logits"] - other(batch)["logits"]).abs().max()
    assert diff > 1e-2


def test_converted_checkpoint_records_its_origin_for_eval_and_predict(ref_dir: Path, converted: Path,
                                                                      cog_sample: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    data = sorted(cog_sample.rglob("*.json.gz"))[0]
    assert main(["eval", "--ckpt", str(converted), "--data", str(data), "--out", str(tmp_path / "ev")]) == 0
    assert "converted from IBM/mi-prometheus SAM-Net_v13" in capsys.readouterr().out
    out = tmp_path / "p.jsonl"
    assert main(["predict", "--ckpt", str(converted), "--data", str(data), "--out", str(out), "--logits"]) == 0
    row = json.loads(out.read_text().splitlines()[0])
    frame = row["frames"][0]
    assert len(frame["logits"]) == 55 and max(frame["logits"], key=frame["logits"].get) == frame["pred"] \
        or frame["target"] == "invalid" or isinstance(frame["pred"], list)
    origin = torch.load(converted, weights_only=False)["vrkit_origin"]
    assert origin["input_scale"] == 1.0 and len(origin["vocabulary"]["input"]) == 79


def _write(path: Path, obj: object) -> Path:
    torch.save(obj, path)
    return path


def test_converter_rejects_bad_reference_files(ref_dir: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    ref = {k: torch.from_numpy(v) for k, v in np.load(ref_dir / "reference_state_dict.npz").items()}
    missing = dict(ref)
    del missing["vwm_cell.summary_unit.concat_layer.weight"]
    wrong = {**ref, "feature_maps_proj_layer.weight": torch.zeros(128, 64)}
    cases = {
        "not-a-checkpoint": (tmp_path / "x.pt", "not a torch checkpoint"),
        "missing": (_write(tmp_path / "m.pt", {"state_dict": missing, "name": "VWM"}), "missing"),
        "unexpected": (_write(tmp_path / "u.pt", {**ref, "extra.weight": torch.zeros(1)}), "unexpected"),
        "wrong-shape": (_write(tmp_path / "w.pt", wrong), "wrong shape"),
        "no-tensors": (_write(tmp_path / "n.pt", {"name": "VWM"}), "not a checkpoint"),
    }
    (tmp_path / "x.pt").write_text("hello")
    for name, (path, needle) in cases.items():
        out = tmp_path / f"{name}.ckpt"
        assert main(["convert", "mi-prometheus", str(path), "--out", str(out)]) == 2, name
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and needle in err and str(path) in err, (name, err)
        assert not out.exists()


def test_mi_prometheus_checkpoint_dict_with_dates_and_stats_converts(ref_dir: Path, tmp_path: Path) -> None:
    import datetime

    ref = {k: torch.from_numpy(v) for k, v in np.load(ref_dir / "reference_state_dict.npz").items()}
    chk = {"name": "VWM", "state_dict": ref, "model_timestamp": datetime.datetime(2019, 5, 1), "episode": 7,
           "loss": np.float32(0.5), "status": "Converged", "training_stats": {"loss": np.array([0.9, 0.5])}}
    path = _write(tmp_path / "model_best.pt", chk)
    out = tmp_path / "c.ckpt"
    assert main(["convert", "mi-prometheus", str(path), "--out", str(out)]) == 0
    task = load_task(out)
    assert task.origin["input_scale"] == 255.0
    torch.testing.assert_close(task.model.image_encoder.cnn.net[0].weight,
                               ref["image_encoder.cnn_module.0.weight"] * 255)


def test_converted_checkpoint_fine_tunes_with_the_transfer_code(converted: Path, tmp_path: Path) -> None:
    import dataclasses

    from vrkit.engine.config import SourceConfig
    from vrkit.engine.convert import reference_config
    from vrkit.transfer.finetune import finetune_run

    cfg = reference_config()
    cfg.data = dataclasses.replace(cfg.data, train=SourceConfig(n=8), val=SourceConfig(n=4), batch_size=4)
    cfg.trainer = dataclasses.replace(cfg.trainer, max_steps=2, max_epochs=1)
    res = finetune_run(cfg, converted, tmp_path / "ft", units=["output_unit"])
    task = load_task(res["ckpt"])
    assert task.origin is not None and task.origin["input_scale"] == 1.0
    before = load_task(converted).model.state_dict()
    after = task.model.state_dict()
    assert not torch.equal(before["output_unit.2.weight"], after["output_unit.2.weight"])  # trained
    assert torch.equal(before["reasoning_cell.summary_update.weight"], after["reasoning_cell.summary_update.weight"])
