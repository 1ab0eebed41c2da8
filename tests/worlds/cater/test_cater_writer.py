"""Writing CATER-style splits: video seeds, whole-or-nothing output, the manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import vrkit.worlds.cater.writer as writer
from vrkit.worlds.cater import CaterConfig
from vrkit.worlds.cater.io import iter_videos
from vrkit.worlds.cater.writer import CaterGenerateConfig, generate_cater, video_seed

TINY = CaterConfig(frames=4, size=8, action_frames=(2, 3), antialias=False)


def test_video_seeds_differ_by_split_index_and_seed() -> None:
    seeds = {video_seed(s, split, i) for s in (0, 1) for split in ("train", "val") for i in range(50)}
    assert len(seeds) == 200 and all(0 <= x < 2**63 for x in seeds)
    assert video_seed(0, "train", 3) == video_seed(0, "train", 3)


def test_a_failed_run_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = writer.generate_video
    calls = []

    def flaky(seed: int, config: CaterConfig):
        calls.append(seed)
        if len(calls) == 5:
            raise RuntimeError("killed")
        return real(seed, config)

    monkeypatch.setattr(writer, "generate_video", flaky)
    with pytest.raises(RuntimeError):
        generate_cater(CaterGenerateConfig(out=str(tmp_path), n=6, video=TINY, part_size=2))
    assert [p.name for p in tmp_path.iterdir()] == []  # no part, no manifest, no temp directory


def test_manifest_and_records_describe_the_split(tmp_path: Path) -> None:
    m = generate_cater(CaterGenerateConfig(out=str(tmp_path), n=5, seed=2, split="val", video=TINY, part_size=2))
    on_disk = json.loads((tmp_path / "manifest.cater_val.json").read_text())
    assert on_disk == m and m["videos"] == 5 and [p["videos"] for p in m["parts"]] == [2, 2, 1]
    videos = list(iter_videos(tmp_path / "cater_val"))
    assert [v.meta["seed"] for v in videos] == [video_seed(2, "val", i) for i in range(5)]
    assert m["snitch_contained_at_end"] == sum(v.snitch_contained_at_end for v in videos)
    assert sum(m["action_counts"].values()) == sum(int(v.actions.sum()) for v in videos)


@pytest.mark.parametrize("bad", [dict(n=0), dict(split="dev"), dict(shard=(2, 2)), dict(workers=0),
                                 dict(part_size=0), dict(seed=-1)])
def test_bad_settings_are_refused(tmp_path: Path, bad: dict) -> None:
    with pytest.raises(ValueError):
        CaterGenerateConfig(out=str(tmp_path), **bad)
