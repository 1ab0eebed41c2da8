"""Tests generated from the model registry: every registered model gets them the moment it registers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vrkit.models.registry import available_models, build_model, get_model_class

MODELS = available_models()
IMAGE = 32  # small frames: the COG CNN gives a 2×2 feature map
WORLDS = {"cog": {"T": 4, "num_answers": 55, "pointing": True}, "clevr": {"T": 1, "num_answers": 28, "pointing": False}}


pytestmark = pytest.mark.usefixtures("one_thread")


def small(name: str, **overrides) -> torch.nn.Module:
    cfg = {"image_size": IMAGE, **get_model_class(name).small_config(), **overrides}
    return build_model(name, **cfg)


def make_batch(B: int, T: int, path: str, num_answers: int = 55, N: int = 5, L: int = 10, seed: int = 0,
               point_frac: float = 0.3) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    lens = torch.randint(3, L + 1, (B,), generator=g)
    lens[0] = L
    q = torch.randint(1, 79, (B, L), generator=g) * (torch.arange(L)[None] < lens[:, None])
    point_mask = torch.rand(B, T, generator=g) < point_frac
    batch = {"question": q, "question_len": lens,
             "answer": torch.randint(0, num_answers, (B, T), generator=g).masked_fill(point_mask, -100),
             "point": torch.rand(B, T, 2, generator=g), "point_mask": point_mask,
             "family": torch.randint(0, 44, (B,), generator=g)}
    if path == "pixels":
        batch["frames"] = torch.rand(B, T, 3, IMAGE, IMAGE, generator=g)
    else:
        col = F.one_hot(torch.randint(0, 21, (B, T, N), generator=g), 21).float()
        shp = F.one_hot(torch.randint(0, 32, (B, T, N), generator=g), 32).float()
        batch["objects"] = torch.cat([col, shp, torch.rand(B, T, N, 2, generator=g)], -1)
        mask = torch.rand(B, T, N, generator=g) < 0.7
        mask[..., 0] = True
        batch["object_mask"] = mask
    return batch


def loss_of(out: dict, batch: dict) -> torch.Tensor:
    from vrkit.models.layers import point_target

    logits = out["logits"]
    loss = F.cross_entropy(logits.flatten(0, 1), batch["answer"].flatten(), ignore_index=-100)
    if "point_logits" in out:
        ce = -(point_target(batch["point"], 7) * torch.log_softmax(out["point_logits"], -1)).sum(-1)
        loss = loss + (ce * batch["point_mask"]).mean()
    return loss


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("path", ["pixels", "state"])
@pytest.mark.parametrize("world", sorted(WORLDS))
def test_output_shapes(name: str, path: str, world: str) -> None:
    w = WORLDS[world]
    torch.manual_seed(0)
    model = small(name, path=path, num_answers=w["num_answers"], pointing=w["pointing"]).eval()
    batch = make_batch(3, w["T"], path, w["num_answers"])
    with torch.no_grad():
        out = model(batch)
    assert out["logits"].shape == (3, w["T"], w["num_answers"])
    assert torch.isfinite(out["logits"]).all()
    if w["pointing"]:
        assert out["point_logits"].shape == (3, w["T"], 49)
        assert torch.isfinite(out["point_logits"]).all()
    else:
        assert out.get("point_logits") is None


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("path", ["pixels", "state"])
def test_backward_gives_finite_grads_everywhere(name: str, path: str) -> None:
    torch.manual_seed(0)
    model = small(name, path=path).train()
    batch = make_batch(4, 3, path, point_frac=0.5)
    loss_of(model(batch), batch).backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"no gradient for {missing}"
    bad = [n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradient for {bad}"


@pytest.mark.parametrize("name", MODELS)
def test_learns_a_small_fixed_batch(name: str) -> None:
    torch.manual_seed(0)
    model = small(name, path="state", pointing=False, num_answers=10)
    batch = make_batch(16, 2, "state", num_answers=10, point_frac=0.0, seed=1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    acc = 0.0
    for step in range(300):
        model.train()
        opt.zero_grad()
        loss_of(model(batch), batch).backward()
        opt.step()
        if step % 10 == 9:
            model.eval()
            with torch.no_grad():
                acc = (model(batch)["logits"].argmax(-1) == batch["answer"]).float().mean().item()
            if acc == 1.0:
                break
    assert acc == 1.0, f"{name}: training accuracy {acc:.3f} after {step + 1} steps"


@pytest.mark.parametrize("name", MODELS)
def test_seed_determinism(name: str) -> None:
    batch = make_batch(3, 2, "state")
    outs, states = [], []
    for _ in range(2):
        torch.manual_seed(123)
        model = small(name, path="state").train()  # dropout active: its draws must repeat too
        states.append(model.state_dict())
        outs.append(model(batch)["logits"])
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert torch.equal(outs[0], outs[1])
    torch.manual_seed(124)
    other = small(name, path="state").state_dict()
    assert any(not torch.equal(states[0][k], other[k]) for k in other if other[k].is_floating_point())


@pytest.mark.parametrize("name", MODELS)
def test_reset_head_changes_width_and_keeps_the_rest(name: str) -> None:
    torch.manual_seed(0)
    model = small(name, path="state").eval()
    batch = make_batch(2, 2, "state")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.reset_head(7)
    with torch.no_grad():
        out = model(batch)
    assert out["logits"].shape == (2, 2, 7)
    after = model.state_dict()
    changed = [k for k in after if k not in before or after[k].shape != before[k].shape
               or not torch.equal(after[k], before[k])]
    kept = [k for k in before if k in after and torch.equal(after[k], before[k])]
    assert changed, "reset_head changed no parameter"
    assert len(kept) >= len(before) - 4, f"reset_head touched more than the classifier: {changed}"
    assert all(after[k].shape[0] == 7 for k in changed if k in after and after[k].dim() >= 1)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("path", ["pixels", "state"])
def test_units_partition_the_parameters(name: str, path: str) -> None:
    model = small(name, path=path)
    units = model.units()
    assert len(units) >= 3
    seen: dict[int, str] = {}
    for unit, module in units.items():
        for p in module.parameters():
            assert id(p) not in seen, f"parameter in both {seen[id(p)]} and {unit}"
            seen[id(p)] = unit
    uncovered = [n for n, p in model.named_parameters() if id(p) not in seen]
    assert not uncovered, f"parameters outside every unit: {uncovered}"


@pytest.mark.parametrize("name", MODELS)
def test_unknown_config_field_is_rejected(name: str) -> None:
    with pytest.raises(TypeError, match="no_such_field"):
        build_model(name, no_such_field=1)
