"""The ``features`` data path: precomputed CNN maps from HDF5 files in clevr-iep's layout, read by ``mac``.

The files are small ones the tests write themselves (pretrained ResNet weights cannot be downloaded here)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from vrkit.data.features_h5 import FeatureMaps
from vrkit.engine.config import DataConfig, SourceConfig, from_dict, load_config
from vrkit.engine.datamodules.clevr import ClevrDataModule
from vrkit.errors import InputError

pytestmark = pytest.mark.usefixtures("one_thread")
SHAPE = (16, 3, 3)  # small maps: the reader checks against whatever the caller expects
CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "clevr"


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("VRKIT_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "features_cache"))


def write_h5(path: Path, n: int, shape: tuple[int, ...] = SHAPE, name: str = "features") -> np.ndarray:
    """Row i = image i, and its values encode i (so a wrong lookup is visible)."""
    data = (np.arange(n, dtype=np.float32)[:, None, None, None] + np.zeros((n, *shape), np.float32))
    data += np.random.default_rng(0).random(data.shape, dtype=np.float32) * 0.01
    with h5py.File(path, "w") as f:
        f.create_dataset(name, data=data)
    return data


def test_reader_returns_maps_by_image_index(tmp_path: Path) -> None:
    data = write_h5(tmp_path / "f.h5", 5)
    maps = FeatureMaps(tmp_path / "f.h5", shape=SHAPE, count=5)
    assert len(maps) == 5 and maps.shape == SHAPE
    for i in (0, 3, 4):
        got = maps[i]
        assert got.dtype == torch.float32 and got.shape == SHAPE
        np.testing.assert_array_equal(got.numpy(), data[i])


@pytest.mark.parametrize("case, needle", [
    ("missing", "no such feature file"),
    ("not-hdf5", "not a readable HDF5 file"),
    ("no-dataset", "no dataset 'features' in this HDF5 file (has: maps)"),
    ("rank", "expected [N, C, h, w]"),
    ("shape", "feature maps are [16, 3, 3], the model expects [1024, 14, 14]"),
    ("count", "5 feature maps for a split of 7 images"),
    ("index", "5 feature maps, but the questions refer to image index 5"),
])
def test_reader_bad_files_are_one_line_errors(tmp_path: Path, case: str, needle: str) -> None:
    path = tmp_path / "f.h5"
    kw: dict = {"shape": SHAPE}
    if case == "not-hdf5":
        path.write_text("hello")
    elif case == "no-dataset":
        write_h5(path, 5, name="maps")
    elif case == "rank":
        with h5py.File(path, "w") as f:
            f.create_dataset("features", data=np.zeros((5, 16), np.float32))
    elif case != "missing":
        write_h5(path, 5)
        kw.update({"shape": (1024, 14, 14)} if case == "shape" else {"count": 7} if case == "count" else
                  {"max_index": 5})
    with pytest.raises(InputError) as info:
        FeatureMaps(path, **kw)
    msg = str(info.value)
    assert needle in msg and str(path) in msg and "\n" not in msg


def _generated_root() -> tuple[Path, int]:
    """A generated CLEVR split (questions + scenes, no images) to point a files source at; its image count."""
    dm = ClevrDataModule(DataConfig(world="clevr", variant="A", path="state", train=SourceConfig(n=24, seed=3)))
    ds = dm.dataset("train").ds
    return ds.files.questions.parents[1], len(ds.scenes.row)


def _features_tree(root: Path, h5: Path, run_dir: Path) -> dict:
    src = {"kind": "files", "paths": [str(root), "trainA"], "features": str(h5)}
    return {"seed": 0, "run_dir": str(run_dir),
            "model": {"name": "mac", "d": 16, "steps": 2, "embedding_size": 8, "feature_channels": SHAPE[0]},
            "data": {"world": "clevr", "variant": "A", "families": "all", "path": "features",
                     "train": src, "val": src, "batch_size": 8},
            "optim": {"lr": 1e-3}, "trainer": {"max_epochs": 1, "log_every_n_steps": 1}}


def test_datamodule_adds_the_maps_of_each_question_image(tmp_path: Path) -> None:
    root, n_images = _generated_root()
    data = write_h5(tmp_path / "trainA.h5", n_images)
    cfg = from_dict(_features_tree(root, tmp_path / "trainA.h5", tmp_path / "run"))
    ClevrDataModule.check_config(cfg.data)
    dm = ClevrDataModule(cfg.data)
    ds = dm.dataset("train")
    images = ds.ds.questions.image_index[ds.indices]
    for k in (0, 5, len(ds) - 1):
        item = ds[k]
        assert "frames" not in item and "objects" not in item
        np.testing.assert_array_equal(item["features"][0].numpy(), data[images[k]])
    batch = ClevrDataModule.collate([ds[0], ds[1]])
    assert batch["features"].shape == (2, 1, *SHAPE)


def test_tiny_features_run_trains_mac(tmp_path: Path) -> None:
    from vrkit.engine.run import train

    root, n_images = _generated_root()
    write_h5(tmp_path / "trainA.h5", n_images)
    cfg = from_dict(_features_tree(root, tmp_path / "trainA.h5", tmp_path / "run"))
    n_questions = len(ClevrDataModule(cfg.data).dataset("val"))
    res = train(cfg)
    assert res["steps"] == -(-n_questions // 8) and res["val"]["frames"] == n_questions
    assert 0.0 <= res["val"]["frames_acc"] <= 1.0


def test_features_file_of_the_wrong_split_size_is_rejected(tmp_path: Path) -> None:
    root, n_images = _generated_root()
    write_h5(tmp_path / "other.h5", n_images + 3)
    cfg = from_dict(_features_tree(root, tmp_path / "other.h5", tmp_path / "run"))
    with pytest.raises(InputError, match=f"{n_images + 3} feature maps for a split of {n_images} images"):
        ClevrDataModule(cfg.data).dataset("train")


def test_features_path_needs_a_files_source_with_a_features_file(tmp_path: Path) -> None:
    cfg = load_config(CONFIGS / "mac_cpu.yaml", ["data.path=features"])  # a checkpoint's config loads ...
    with pytest.raises(InputError, match="the features path needs a files source with features") as info:
        ClevrDataModule(cfg.data).dataset("train")  # ... but no data is built without the maps
    assert "\n" not in str(info.value)
    root, _ = _generated_root()
    tree = _features_tree(root, tmp_path / "x.h5", tmp_path / "run")
    del tree["data"]["train"]["features"]
    with pytest.raises(InputError, match="data.train: the features path needs"):
        ClevrDataModule(from_dict(tree).data).dataset("train")


def test_feature_maps_of_the_wrong_channel_count_are_one_line(tmp_path: Path) -> None:
    from vrkit.engine.run import train

    root, n_images = _generated_root()
    write_h5(tmp_path / "trainA.h5", n_images)
    tree = _features_tree(root, tmp_path / "trainA.h5", tmp_path / "run")
    tree["model"]["feature_channels"] = SHAPE[0] + 8  # the model was built for other maps
    with pytest.raises(InputError, match=rf"feature maps have {SHAPE[0]} channels.*feature_channels={SHAPE[0] + 8}"):
        train(from_dict(tree))
