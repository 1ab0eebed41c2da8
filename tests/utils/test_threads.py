"""The thread policy (vrkit/utils/threads.py): precedence flag > VRKIT_THREADS > OMP_NUM_THREADS > auto, auto = 1
thread per process, one-line errors (exit 2) for bad values, the CLI flags applying it, the environment reaching
child processes, DataLoader workers on one thread, and the benchmarks' busy-core helper."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from vrkit.cli import build_parser, main
from vrkit.errors import InputError
from vrkit.utils import threads as policy
from vrkit.utils.threads import AUTO_THREADS, apply_thread_policy, parse_threads, resolve_threads

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_env(monkeypatch):
    """No thread variables from the caller; monkeypatch restores OMP_NUM_THREADS after the policy wrote it, and
    torch's intra-op count is restored too."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("VRKIT_THREADS", raising=False)
    before = torch.get_num_threads()
    yield monkeypatch
    torch.set_num_threads(before)


def test_default_is_one_thread_per_process():
    assert AUTO_THREADS == 1
    assert resolve_threads(None, {}) == policy.ThreadChoice(1, "auto")
    assert resolve_threads("auto", {}) == policy.ThreadChoice(1, "auto")


@pytest.mark.parametrize("flag, env, expected", [
    ("2", {"VRKIT_THREADS": "3", "OMP_NUM_THREADS": "4"}, (2, "flag")),
    (None, {"VRKIT_THREADS": "3", "OMP_NUM_THREADS": "4"}, (3, "VRKIT_THREADS")),
    (None, {"OMP_NUM_THREADS": "4"}, (4, "OMP_NUM_THREADS")),
    (None, {"OMP_NUM_THREADS": "4,2"}, (4, "OMP_NUM_THREADS")),  # nested OpenMP list: the outer level
    (None, {"OMP_NUM_THREADS": "lots"}, (1, "auto")),  # not ours to reject; OpenMP ignores it too
    (None, {"VRKIT_THREADS": "auto", "OMP_NUM_THREADS": "4"}, (1, "auto")),
    ("auto", {"VRKIT_THREADS": "3"}, (1, "auto")),  # an explicit --threads auto wins over the environment
    (5, {}, (5, "flag")),
])
def test_precedence_flag_env_omp_auto(flag, env, expected):
    assert resolve_threads(flag, env) == policy.ThreadChoice(*expected)


@pytest.mark.parametrize("bad", ["0", "-1", "two", "1.5", 0, True])
def test_invalid_values_name_the_flag(bad):
    with pytest.raises(InputError, match=r"^--threads: expected a positive integer or 'auto'"):
        parse_threads(bad)


def test_invalid_env_names_the_variable():
    with pytest.raises(InputError, match=r"^VRKIT_THREADS: expected a positive integer or 'auto', got 'many'"):
        resolve_threads(None, {"VRKIT_THREADS": "many"})


@pytest.mark.parametrize("flag", ["1", "2"])
def test_train_flag_parses_and_applies(clean_env, flag, capsys):
    torch.set_num_threads(3 - int(flag))  # start from the other count, so a no-op would fail
    assert main(["train", "--threads", flag, "--print-config"]) == 0
    assert "model:" in capsys.readouterr().out
    assert torch.get_num_threads() == int(flag)
    assert os.environ["OMP_NUM_THREADS"] == flag  # for DDP ranks and other child processes


def test_train_default_applies_auto(clean_env, capsys):
    torch.set_num_threads(2)
    assert main(["train", "--print-config"]) == 0
    capsys.readouterr()
    assert torch.get_num_threads() == 1


def test_env_applies_without_flag(clean_env, capsys):
    clean_env.setenv("VRKIT_THREADS", "2")
    torch.set_num_threads(1)
    assert main(["train", "--print-config"]) == 0
    capsys.readouterr()
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("argv", [
    ["train", "--threads", "zero", "--print-config"],
    ["demo", "--threads", "0"],
    ["transfer", "temporal", "--model", "samnet", "--out", "unused", "--dry-run", "--threads", "-2"],
])
def test_bad_flag_is_one_line_exit_2(clean_env, argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vrkit: error: --threads: expected a positive integer or 'auto'")


def test_bad_env_is_one_line_exit_2(clean_env, capsys):
    clean_env.setenv("VRKIT_THREADS", "0")
    assert main(["train", "--print-config"]) == 2
    expected = "vrkit: error: VRKIT_THREADS: expected a positive integer or 'auto', got '0'"
    assert capsys.readouterr().err.strip() == expected


def test_demo_transfer_eval_predict_have_the_flag():
    parser = build_parser()
    assert parser.parse_args(["demo", "--threads", "2"]).threads == "2"
    assert parser.parse_args(["demo"]).threads is None
    transfer = ["transfer", "temporal", "--model", "samnet", "--out", "x", "--threads", "auto"]
    assert parser.parse_args(transfer).threads == "auto"
    assert parser.parse_args(["eval", "--ckpt", "c", "--data", "d", "--threads", "1"]).threads == "1"
    assert parser.parse_args(["predict", "--ckpt", "c", "--data", "d", "--out", "p", "--threads", "1"]).threads == "1"


def test_interop_already_fixed_is_recorded_not_raised(clean_env, monkeypatch):
    def refuse(n: int) -> None:
        raise RuntimeError("Error: cannot set number of interop threads after parallel work has started")

    monkeypatch.setattr(torch, "get_num_interop_threads", lambda: 7)
    monkeypatch.setattr(torch, "set_num_interop_threads", refuse)
    done = apply_thread_policy("1")
    assert done == {"threads": 1, "source": "flag", "interop_threads": 7, "interop_applied": False}


def test_child_processes_inherit_the_choice(clean_env):
    """DDP ranks (ddp_spawn: fresh interpreters) and bench subprocesses see the policy through OMP_NUM_THREADS."""
    apply_thread_policy("1")
    code = "import torch; print(torch.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ),
                         timeout=60, check=True).stdout
    assert out.strip() == "1"


class _ThreadsInWorker(Dataset):
    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int) -> int:
        return torch.get_num_threads()


def test_dataloader_workers_run_one_thread(clean_env):
    """torch's worker loop sets one thread per worker (why the datamodules need no worker_init_fn)."""
    torch.set_num_threads(2)
    loader = DataLoader(_ThreadsInWorker(), batch_size=None, num_workers=1)
    assert [int(n) for n in loader] == [1, 1]


def test_busy_core_helper_starts_and_cleans_up():
    sys.path.insert(0, str(ROOT / "bench"))
    from _common import BusyCore

    with pytest.raises(ValueError, match="busy load must be one of"):
        BusyCore("spin")
    with BusyCore("loop", seconds=30) as busy:
        assert busy.proc is not None and busy.proc.poll() is None
        time.sleep(0.2)
        assert busy.proc.poll() is None
    assert busy.proc.poll() is not None  # killed at exit, not left to its 30 s deadline
    with BusyCore("none") as idle:
        assert idle.proc is None
