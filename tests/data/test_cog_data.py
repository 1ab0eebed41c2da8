"""COG state encoding (vrkit.worlds.cog.state) and torch data layer (vrkit.data) on the official sample."""

from __future__ import annotations

import gzip
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from vrkit.data import (
    CogFileDataset,
    CogStreamDataset,
    balanced_weights,
    collate_cog,
    grid_readout,
    last_class_answer,
)
from vrkit.data import grid_target as grid_target_torch
from vrkit.errors import InputError
from vrkit.worlds.cog.constants import (
    COLORS,
    FAMILY_INDEX,
    INPUT_VOCAB,
    OUTPUT_INDEX,
    OUTPUT_VOCAB,
    SHAPES,
)
from vrkit.worlds.cog.io import iter_examples
from vrkit.worlds.cog.state import (
    STATE_FEATURES,
    decode_object,
    encode_answers,
    encode_question,
    encode_state,
    grid_target,
)

VARIANT_DIRS = ("val_4_3_1", "val_8_7_10")


@pytest.fixture(scope="module")
def examples(cog_sample: Path) -> dict[str, list[dict]]:
    return {v: [ex for _, ex in iter_examples([cog_sample / v])] for v in VARIANT_DIRS}


def _visible(example: dict, t: int) -> list[dict]:
    out = []
    for o in example["objects"]:
        ep = o["epochs"]
        if (ep == t) if isinstance(ep, int) else (t in ep):
            out.append(o)
    return out


def _described(o: dict) -> tuple:
    return (o["color"], o["shape"], float(np.float32(o["location"][0])), float(np.float32(o["location"][1])))


@pytest.mark.parametrize("variant", VARIANT_DIRS)
def test_state_matches_visible_objects(examples, variant):
    for ex in examples[variant]:
        objects, mask = encode_state(ex)
        E = ex["epochs"]
        counts = [len(_visible(ex, t)) for t in range(E)]
        assert objects.shape == (E, max(max(counts), 1), STATE_FEATURES) and objects.dtype == np.float32
        assert mask.shape == objects.shape[:2] and mask.dtype == bool
        for t in range(E):
            n = int(mask[t].sum())
            assert n == counts[t]
            assert mask[t, :n].all()  # filled slots first
            assert not objects[t, n:].any()  # padding is zero
            vecs = objects[t, :n]
            assert (vecs[:, :53].sum(1) == 2).all()  # exactly one colour and one shape bit
            decoded = [decode_object(v) for v in vecs]
            expected = sorted(map(_described, _visible(ex, t)), key=lambda d: (d[2], d[3], d[0], d[1]))
            assert decoded == expected  # same objects, in draw order (x, y, colour, shape)


def test_hard_frames_pad_and_cap(examples):
    hard = examples["val_8_7_10"]
    big = max(hard, key=lambda ex: max(len(_visible(ex, t)) for t in range(ex["epochs"])))
    counts = [len(_visible(big, t)) for t in range(big["epochs"])]
    assert max(counts) >= 12  # the sample's busiest hard frame
    objects, mask = encode_state(big)
    assert objects.shape[1] == max(counts) and mask.sum(1).tolist() == counts
    cap = 5
    capped, cmask = encode_state(big, max_objects=cap)
    again, _ = encode_state(big, max_objects=cap)
    assert capped.shape == (big["epochs"], cap, STATE_FEATURES) and np.array_equal(capped, again)
    assert cmask.sum(1).tolist() == [min(c, cap) for c in counts]
    for t in range(big["epochs"]):
        vis = _visible(big, t)
        kept = [decode_object(v) for v in capped[t, cmask[t]]]
        assert kept == sorted(kept, key=lambda d: (d[2], d[3], d[0], d[1]))
        assert set(kept) <= {_described(o) for o in vis}
        real = {_described(o) for o in vis if not o["is_distractor"]}
        if len(real) <= cap:
            assert real <= set(kept)  # every object the question can be about survives the cap
    # A cap larger than every frame just pads.
    wide, wmask = encode_state(big, max_objects=40)
    assert wide.shape[1] == 40 and np.array_equal(wide[:, : max(counts)], objects)
    assert not wmask[:, max(counts):].any()


@pytest.mark.parametrize("variant", VARIANT_DIRS)
def test_answers_points_masks(examples, variant):
    for ex in examples[variant]:
        answer, point, point_mask = encode_answers(ex)
        assert answer.dtype == np.int64 and point.dtype == np.float32 and point_mask.dtype == bool
        for t, a in enumerate(ex["answers"]):
            if isinstance(a, list):
                assert point_mask[t] and answer[t] == -100
                assert point[t].tolist() == [float(np.float32(v)) for v in a]
            else:
                assert not point_mask[t] and not point[t].any()
                assert answer[t] == (-100 if a == "invalid" else OUTPUT_INDEX[a])
                if a != "invalid":
                    assert OUTPUT_VOCAB[answer[t]] == a


def test_questions_encode_and_round_trip(examples):
    for ex in examples["val_4_3_1"] + examples["val_8_7_10"][:200]:
        ids = encode_question(ex["question"])
        assert ids.shape == (25,) and ids.dtype == np.int64
        n = int((ids > 0).sum())
        assert (ids[n:] == 0).all()
        assert [INPUT_VOCAB[i] for i in ids[:n]] == ex["question"].split()


def test_unknown_token_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown question token 'banana'"):
        encode_question("point now banana")
    with pytest.raises(ValueError, match="more than 25"):
        encode_question(" ".join(["red"] * 26))


def test_unknown_token_in_file_names_file_and_line(tmp_path, cog_sample):
    with gzip.open(cog_sample / "val_4_3_1" / "cog_GetColor.json.gz", "rb") as fh:
        lines = fh.read().split(b"\n")[:3]
    lines[1] = lines[1].replace(b'"question": "', b'"question": "banana ')
    f = tmp_path / "cog_bad.json"
    f.write_bytes(b"\n".join(lines))
    ds = CogFileDataset([f])
    assert len(ds) == 3 and ds[0]["question_len"] > 0
    with pytest.raises(InputError, match=r"cog_bad\.json:2: unknown question token 'banana'"):
        ds[1]
    # A broken object: the schema check names the problem; without it the error still names file:line.
    lines[1] = lines[0].replace(b'"epochs": 0,', b'"epochs": 9,', 1)
    assert lines[1] != lines[0]
    f.write_bytes(b"\n".join(lines))
    with pytest.raises(InputError, match=r"cog_bad\.json:2: objects\[\d+\]: 'epochs' 9 outside 0\.\.3"):
        CogFileDataset([f])[1]
    fast = CogFileDataset([f], validate=False)
    assert fast[0]["answer"].tolist() == ds[0]["answer"].tolist()
    with pytest.raises(InputError, match=r"cog_bad\.json:2: malformed example"):
        fast[1]


def test_grid_target_sums_to_one_and_peaks_at_nearest_point():
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 1, size=(5, 40, 2))
    tgt = grid_target(pts)
    assert tgt.shape == (5, 40, 49) and tgt.dtype == np.float32
    np.testing.assert_allclose(tgt.sum(-1), 1.0, rtol=1e-5)
    col = np.rint(pts[..., 0] * 6).astype(int)
    row = np.rint(pts[..., 1] * 6).astype(int)
    assert np.array_equal(tgt.argmax(-1), row * 7 + col)
    # One exact value: a point on grid node (col 2, row 5) vs. its neighbour one step right.
    one = grid_target(np.array([2 / 6, 5 / 6]))
    assert one.argmax() == 5 * 7 + 2
    assert math.isclose(one[5 * 7 + 3] / one[5 * 7 + 2], math.exp(-(1 / 6) ** 2 / 0.02), rel_tol=1e-5)
    # torch version agrees; reading out peaked logits gives the peak's grid point, flat logits the centre.
    t = grid_target_torch(torch.tensor(pts, dtype=torch.float32))
    np.testing.assert_allclose(t.numpy(), tgt, atol=1e-6)
    peaked = torch.nn.functional.one_hot(torch.from_numpy(row * 7 + col), 49).float() * 100
    expected = torch.tensor(np.stack([col, row], -1) / 6, dtype=torch.float32)
    torch.testing.assert_close(grid_readout(peaked), expected)
    torch.testing.assert_close(grid_readout(torch.zeros(49)), torch.tensor([0.5, 0.5]))


def _check_batch(batch: dict, B: int, T: int, path: str, size: int = 112) -> None:
    assert batch["question"].shape[0] == B and batch["question"].dtype == torch.int64
    assert batch["question"].shape[1] == batch["question_len"].max()
    assert batch["question_len"].shape == (B,) and batch["question_len"].dtype == torch.int64
    for b in range(B):
        n = int(batch["question_len"][b])
        assert (batch["question"][b, :n] > 0).all() and (batch["question"][b, n:] == 0).all()
    assert batch["answer"].shape == (B, T) and batch["answer"].dtype == torch.int64
    assert batch["point"].shape == (B, T, 2) and batch["point"].dtype == torch.float32
    assert batch["point_mask"].shape == (B, T) and batch["point_mask"].dtype == torch.bool
    assert batch["family"].shape == (B,) and batch["family"].dtype == torch.int64
    assert not (batch["point_mask"] & (batch["answer"] != -100)).any()
    if path == "state":
        N = batch["objects"].shape[2]
        assert batch["objects"].shape == (B, T, N, STATE_FEATURES) and batch["objects"].dtype == torch.float32
        assert batch["object_mask"].shape == (B, T, N) and batch["object_mask"].dtype == torch.bool
        assert batch["object_mask"].any(-1).any(-1).all()  # no example is entirely empty
        assert batch["object_mask"].sum(-1).max() == N  # padded to the batch max, not beyond
        assert "frames" not in batch
    else:
        assert batch["frames"].shape == (B, T, 3, size, size) and batch["frames"].dtype == torch.float32
        assert batch["frames"].min() >= 0 and batch["frames"].max() <= 1 and batch["frames"].max() > 0
        assert "objects" not in batch


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("variant,T", [("val_4_3_1", 4), ("val_8_7_10", 8)])
def test_file_dataloader_state(cog_sample, workers, variant, T):
    fams = ["GetColor", "ExistSpaceGo", "AndCompareShape"]
    ds = CogFileDataset(cog_sample / variant, families=fams)
    assert len(ds) == 150 and set(ds.family_indices().tolist()) == {FAMILY_INDEX[f] for f in fams}
    loader = DataLoader(ds, batch_size=8, num_workers=workers, collate_fn=collate_cog)
    batches = list(loader)
    assert sum(b["answer"].shape[0] for b in batches) == 150
    for b in batches:
        _check_batch(b, b["answer"].shape[0], T, "state")
    # Rows are the encoded examples, in order.
    first = ds.example(0)
    answer, _, _ = encode_answers(first)
    assert batches[0]["answer"][0].tolist() == answer.tolist()
    assert batches[0]["family"][0] == FAMILY_INDEX[first["family"]]


@pytest.mark.parametrize("workers", [0, 2])
def test_file_dataloader_pixels(cog_sample, workers):
    pytest.importorskip("vrkit.worlds.cog.render")
    ds = CogFileDataset(cog_sample / "val_4_3_1", path="pixels", families=["GoShape", "CompareColor"])
    loader = DataLoader(ds, batch_size=8, num_workers=workers, collate_fn=collate_cog)
    for b in itertools.islice(loader, 2):
        _check_batch(b, 8, 4, "pixels")
    # Normalisations are consistent with each other.
    item = ds[3]
    fams = ["GoShape", "CompareColor"]
    mean = CogFileDataset(cog_sample / "val_4_3_1", path="pixels", families=fams, pixel_norm="mean")
    raw = CogFileDataset(cog_sample / "val_4_3_1", path="pixels", families=fams, pixel_norm="uint8")
    assert raw[3]["frames"].dtype == torch.uint8
    torch.testing.assert_close(item["frames"] * 255, raw[3]["frames"].float())
    means = torch.tensor([123.68, 116.78, 103.94]).view(1, 3, 1, 1)
    torch.testing.assert_close(mean[3]["frames"], raw[3]["frames"].float() - means)


def test_collate_rejects_mixed_frame_counts(cog_sample):
    canon = CogFileDataset(cog_sample / "val_4_3_1", families=["GetColor"])
    hard = CogFileDataset(cog_sample / "val_8_7_10", families=["GetColor"])
    with pytest.raises(ValueError, match=r"one number of frames, got \[4, 8\]"):
        collate_cog([canon[0], hard[0]])


def test_answer_balanced_weights(cog_sample):
    ds = CogFileDataset(cog_sample / "val_4_3_1", families=["GetColor", "ExistColor", "GoColor"])
    labels = ds.answer_labels()
    assert labels.tolist() == [last_class_answer(ds.example(i)["answers"]) for i in range(len(ds))]
    assert (labels[ds.family_indices() == FAMILY_INDEX["GoColor"]] == -1).all()
    w = balanced_weights(labels)
    classes = np.unique(labels)
    per_class = [w[labels == c].sum() for c in classes]
    np.testing.assert_allclose(per_class, 1 / len(classes))


def _stream_keys(ds, workers):
    loader = DataLoader(ds, batch_size=8, num_workers=workers, collate_fn=collate_cog)
    keys = []
    for b in loader:
        _check_batch(b, b["answer"].shape[0], 4, "state")
        for i in range(b["answer"].shape[0]):
            keys.append((b["question"][i].numpy().tobytes(), b["objects"][i].numpy().tobytes(),
                         b["answer"][i].numpy().tobytes()))
    return keys


def test_stream_determinism_and_workers():
    pytest.importorskip("vrkit.worlds.cog.generator")
    fams = ["GetColor", "ExistColorSpace", "GoShape"]
    ds = CogStreamDataset("canonical", families=fams, seed=3, length=48)
    a = [ds.example(k) for k in range(6)]
    assert a == [CogStreamDataset("canonical", families=fams, seed=3).example(k) for k in range(6)]
    assert [ex["family"] for ex in a] == fams * 2
    assert a != [CogStreamDataset("canonical", families=fams, seed=4).example(k) for k in range(6)]
    one = _stream_keys(ds, 0)
    two = _stream_keys(ds, 2)
    assert len(one) == len(two) == 48
    assert len(set(two)) == 48  # the two workers never duplicate an example
    assert sorted(one) == sorted(two)  # same examples for a seed, whatever the number of workers
    assert one == _stream_keys(ds, 0)  # and the same bytes again
    ds.set_epoch(1)
    assert not set(_stream_keys(ds, 0)) & set(one)  # a new epoch gives new examples


def test_stream_hard_pixels_item():
    pytest.importorskip("vrkit.worlds.cog.generator")
    pytest.importorskip("vrkit.worlds.cog.render")
    ds = CogStreamDataset("hard", families=["ExistShape"], seed=0, path="pixels", length=2, image_size=64)
    items = list(ds)
    assert len(items) == 2 and items[0]["frames"].shape == (8, 3, 64, 64)
    _check_batch(collate_cog(items), 2, 8, "pixels", size=64)


def test_bad_options():
    with pytest.raises(ValueError, match="path must be one of"):
        CogStreamDataset(path="voxels")
    with pytest.raises(ValueError, match="unknown COG families"):
        CogStreamDataset(families=["NoSuchFamily"])
    with pytest.raises(ValueError, match="unknown COG variant"):
        CogStreamDataset(variant="medium")
    assert len(COLORS) + len(SHAPES) + 2 == STATE_FEATURES
