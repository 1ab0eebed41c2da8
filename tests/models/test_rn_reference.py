"""relation_net computes what RelationNetworks-CLEVR computes (../shared/data/rn-reference): the reference's
weights through `vrkit convert rn-clevr` / :func:`vrkit.models.rn_clevr.map_reference_state`, its inputs, and
every output vrkit has a counterpart for, in fp32, for its three variants."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vrkit.cli import main
from vrkit.engine.convert import convert_rn_clevr
from vrkit.engine.evaluate import load_task
from vrkit.models import build_model
from vrkit.models.presets import PRESETS
from vrkit.models.rn_clevr import (
    REFERENCE_CLASSES,
    REFERENCE_PARAMS,
    UNUSED_CNN_PARAMS,
    VARIANTS,
    map_reference_state,
    reference_objects,
)

pytestmark = pytest.mark.usefixtures("one_thread")
# Within 1e-5, relative where the values are large: g_sum reaches 510, where one fp32 step is 3e-5, and the
# reference's own fp32 outputs differ from an fp64 run of the same weights by up to 6e-6 on logits of 30.
TOL = {"rtol": 1e-5, "atol": 1e-5}


@pytest.fixture(scope="module")
def ref_dir(shared_dir) -> Path:
    return shared_dir("rn-reference", "ir-fp_state_dict.npz")


def _state(ref_dir: Path, variant: str) -> dict[str, np.ndarray]:
    return dict(np.load(ref_dir / f"{variant}_state_dict.npz"))


def reference_model(ref_dir: Path, variant: str, **overrides) -> torch.nn.Module:
    """The variant as a vrkit model holding the reference weights. original-sd reads the fixture's 7-feature
    objects as given (the converted checkpoint turns vrkit's 18 features into those 7 itself)."""
    opts = dict(VARIANTS[variant])
    io = PRESETS["clevr_pixels" if opts["path"] == "pixels" else "clevr_state"]
    ref = _state(ref_dir, variant)
    opts["vocab_size"] = ref["text.wembedding.weight"].shape[0]  # the reference's vocabulary (96), as convert reads it
    if variant == "original-sd":
        opts.update(state_features="given", object_features=7)
    model = build_model("relation_net", **{**io, **opts, **overrides}).eval()
    state, _ = map_reference_state(ref, model.state_dict())
    model.load_state_dict(state)
    return model


def _batch(ref_dir: Path, kind: str, state: bool) -> dict[str, torch.Tensor]:
    z = np.load(ref_dir / "inputs.npz")
    b = {"question": torch.from_numpy(z[f"questions_{kind}"]), "question_len": torch.from_numpy(z["lengths"])}
    if state:
        b["objects"] = torch.from_numpy(z["objects"]).unsqueeze(1)  # (B, 1, 12, 7), no mask: zero rows pair too
    else:
        b["frames"] = torch.from_numpy(z["images"]).unsqueeze(1)  # (B, 1, 3, 128, 128) in [0, 1]
    return b


def _outputs(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        logits = model(batch)["logits"][:, 0]
        obj, _, _, _ = model.objects(batch)
        g_sum = model.g(obj, torch.ones(obj.shape[:2], dtype=torch.bool),
                        model.encode_question(batch["question"], batch["question_len"]))[0]
        out = {"logits": logits, "log_probs": torch.log_softmax(logits, -1), "objects": obj, "g_sum": g_sum,
               "question_encoding": model.encode_question(batch["question"], batch["question_len"])}
        if model.cnn is not None:
            out["cnn_features"] = model.cnn(batch["frames"][:, 0])
        if model.config.q_inject_layer == 2:
            out["rcbir_avg"] = model.extract_features(batch, "2s", pool="mean")
            out["rcbir_max"] = model.extract_features(batch, "2s", pool="max")
    return out


@pytest.mark.parametrize("kind", ["full", "padded"])
@pytest.mark.parametrize("variant", ["original-fp", "ir-fp", "original-sd"])
def test_reference_weights_give_the_reference_outputs(ref_dir: Path, variant: str, kind: str) -> None:
    ref = {k: torch.from_numpy(v) for k, v in np.load(ref_dir / f"{variant}_outputs_{kind}.npz").items()}
    model = reference_model(ref_dir, variant)
    mine = _outputs(model, _batch(ref_dir, kind, variant == "original-sd"))
    assert set(ref) == set(mine)  # every reference output has its counterpart
    for name, value in mine.items():
        torch.testing.assert_close(value, ref[name], **TOL, msg=lambda m, n=name: f"{variant} {n}: {m}")
    assert mine["logits"].argmax(-1).eq(ref["logits"].argmax(-1)).all()


@pytest.mark.parametrize("variant", ["original-fp", "ir-fp", "original-sd"])
def test_parameter_counts_are_the_references(ref_dir: Path, variant: str) -> None:
    n = sum(p.numel() for p in reference_model(ref_dir, variant).parameters())
    unused = UNUSED_CNN_PARAMS if variant == "original-sd" else 0  # vrkit builds no CNN for state descriptions
    assert n == REFERENCE_PARAMS[variant] - unused
    ref = _state(ref_dir, variant)
    assert REFERENCE_PARAMS[variant] == sum(v.size for k, v in ref.items()
                                            if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))


@pytest.mark.parametrize(("option", "value"), [("coordinates", "unit"), ("question_padding", "masked"),
                                                ("temporal", True)])
def test_each_option_changes_the_function(ref_dir: Path, option: str, value: object) -> None:
    base = reference_model(ref_dir, "original-fp")
    extra = {"inversion": "tokens"} if option == "question_padding" else {}
    opts = {**PRESETS["clevr_pixels"], **VARIANTS["original-fp"], "vocab_size": base.config.vocab_size, option: value,
            **extra}
    other = build_model("relation_net", **opts).eval()
    other.load_state_dict({**other.state_dict(), **{k: v for k, v in base.state_dict().items()
                                                    if k in other.state_dict()}})
    batch = _batch(ref_dir, "padded", False)
    with torch.no_grad():
        diff = (base(batch)["logits"] - other(batch)["logits"]).abs().max()
    assert diff > 1e-2


def test_state_slots_unmasked_zero_padding_and_the_mask_option(ref_dir: Path) -> None:
    model = reference_model(ref_dir, "original-sd")
    full = {k: v[1:] for k, v in _batch(ref_dir, "full", True).items()}  # scenes of 10, 6 and 3 objects
    short = {**full, "objects": full["objects"][:, :, :10],
             "object_mask": full["objects"][:, :, :10].abs().sum(-1) > 0}
    with torch.no_grad():
        # the reference pads every scene to 12 slots and pairs them: fewer given slots, the same function
        torch.testing.assert_close(model(short)["logits"], model(full)["logits"], **TOL)
        masked = reference_model(ref_dir, "original-sd", object_mask="pairs")
        assert (masked(short)["logits"] - model(short)["logits"]).abs().max() > 1e-3


def test_whole_row_inversion_is_the_references_index_select() -> None:
    model = build_model("relation_net", **PRESETS["clevr_state"], **build_model("relation_net").small_config())
    q = torch.tensor([[5, 6, 7, 0, 0], [1, 2, 3, 4, 9]])
    lens = torch.tensor([3, 5])
    reference = q.index_select(1, torch.arange(q.shape[1] - 1, -1, -1).long())  # utils.load_tensor_data
    assert torch.equal(model.invert_question(q, lens), reference)
    tokens = build_model("relation_net", **PRESETS["clevr_state"], inversion="tokens", question_padding="masked")
    assert tokens.invert_question(q, lens).tolist() == [[7, 6, 5, 0, 0], [9, 4, 3, 2, 1]]
    with pytest.raises(ValueError, match="full"):
        build_model("relation_net", **PRESETS["clevr_state"], inversion="row", question_padding="masked")


def test_reference_objects_are_the_references_seven_features() -> None:
    from vrkit.data._clevr_index import encode_objects

    scene = [{"3d_coords": [1.5, -2.0, 0.35], "color": "gray", "material": "metal", "shape": "cube",
              "size": "small"},
             {"3d_coords": [-0.5, 2.5, 0.7], "color": "cyan", "material": "rubber", "shape": "cylinder",
              "size": "large"}]
    objects = torch.from_numpy(encode_objects(scene))[None]  # (1, 2, 18) in vrkit's layout
    pad = torch.cat([objects, torch.ones(1, 1, 18)], 1)  # a padded slot with garbage
    got = reference_objects(pad, torch.tensor([[True, True, False]]))
    # clevr_dataset_connector.py: the object's keys sorted; attributes as 1-based class indices
    want = [[*o["3d_coords"], *(REFERENCE_CLASSES[a].index(o[a]) + 1 for a in sorted(REFERENCE_CLASSES))]
            for o in scene] + [[0.0] * 7]
    torch.testing.assert_close(got[0], torch.tensor(want), rtol=0, atol=1e-6)


def test_converted_checkpoints_compute_the_reference(ref_dir: Path, tmp_path: Path) -> None:
    ref = {k: torch.from_numpy(v) for k, v in np.load(ref_dir / "ir-fp_outputs_padded.npz").items()}
    out = tmp_path / "ir.ckpt"
    origin = convert_rn_clevr(ref_dir / "ir-fp_state_dict.npz", out, "ir-fp")
    task = load_task(out)
    assert task.origin["variant"] == "ir-fp" and origin["sha256"] == task.origin["sha256"]
    assert task.cfg.data.world == "clevr" and task.cfg.optim.reverse_question
    batch = _batch(ref_dir, "padded", False)
    with torch.no_grad():
        torch.testing.assert_close(task.model(batch)["logits"][:, 0], ref["logits"], **TOL)
    # original-sd on vrkit's data: 18-feature objects are turned into the reference's 7 by the model
    sd = tmp_path / "sd.ckpt"
    convert_rn_clevr(ref_dir / "original-sd_state_dict.npz", sd, "original-sd")
    task = load_task(sd)
    assert task.model.config.state_features == "reference" and task.model.config.object_features == 18
    assert sum(p.numel() for p in task.model.parameters()) == REFERENCE_PARAMS["original-sd"] - UNUSED_CNN_PARAMS


def test_words_and_answers_files_map_the_rows(ref_dir: Path, tmp_path: Path) -> None:
    from vrkit.engine.datamodules.clevr import template_vocab
    from vrkit.worlds.clevr.constants import ANSWERS

    tokens = template_vocab().tokens
    ref_words = ["<padding>", *reversed(tokens[2:])]  # the reference's own order; id 0 = padding
    state = {k: torch.from_numpy(v) for k, v in _state(ref_dir, "ir-fp").items()}
    emb = torch.randn(len(ref_words), 32)
    state["text.wembedding.weight"] = emb
    torch.save(state, tmp_path / "ref.pth")
    (tmp_path / "words.json").write_text(json.dumps({w: i for i, w in enumerate(ref_words) if i}))
    ref_answers = list(reversed(ANSWERS))
    (tmp_path / "answers.json").write_text(json.dumps(ref_answers))
    out = tmp_path / "m.ckpt"
    assert main(["convert", "rn-clevr", str(tmp_path / "ref.pth"), "--variant", "ir-fp", "--out", str(out),
                 "--words", str(tmp_path / "words.json"), "--answers", str(tmp_path / "answers.json")]) == 0
    model = load_task(out).model
    for i in (2, 17, len(tokens) - 1):
        assert torch.equal(model.question_encoder.embed.weight[i], emb[ref_words.index(tokens[i])])
    head = state["rl.f_fc3.weight"]
    assert torch.equal(model.head.weight[ANSWERS.index("cube")], head[ref_answers.index("cube")])


def _write(path: Path, obj: object) -> Path:
    torch.save(obj, path)
    return path


def test_converter_rejects_bad_reference_files(ref_dir: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    ref = {k: torch.from_numpy(v) for k, v in _state(ref_dir, "original-fp").items()}
    missing = {k: v for k, v in ref.items() if k != "rl.g_layers.3.weight"}
    cases = {
        "not-a-checkpoint": (tmp_path / "x.pt", "original-fp", "not a torch checkpoint"),
        "missing": (_write(tmp_path / "m.pt", {"state_dict": missing}), "original-fp", "missing"),
        "unexpected": (_write(tmp_path / "u.pt", {**ref, "rl.extra.weight": torch.zeros(1)}), "original-fp",
                       "unexpected"),
        "wrong-shape": (_write(tmp_path / "w.pt", {**ref, "rl.f_fc1.weight": torch.zeros(256, 64)}),
                        "original-fp", "wrong shape"),
        "wrong-variant": (ref_dir / "original-fp_state_dict.npz", "ir-fp", "--variant ir-fp"),
        "sd-as-pixels": (ref_dir / "original-sd_state_dict.npz", "original-fp", "wrong shape"),
    }
    (tmp_path / "x.pt").write_text("hello")
    for name, (path, variant, needle) in cases.items():
        out = tmp_path / f"{name}.ckpt"
        assert main(["convert", "rn-clevr", str(path), "--variant", variant, "--out", str(out)]) == 2, name
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and needle in err and str(path) in err, (name, err)
        assert not out.exists()
