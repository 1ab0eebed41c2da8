"""``evaluate`` inside a DDP run: one rank evaluates a whole source on its own (bench/learning_curve.py does it
from a callback on rank 0) and must neither wait for the other ranks nor count their examples."""

from __future__ import annotations

import datetime
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

SOURCE = "gen:canonical:48:5"


def _task():
    from vrkit.engine.config import load_config, to_dict
    from vrkit.engine.module import ReasoningTask

    torch.manual_seed(0)
    cfg = load_config(None, ["model.name=relation_net", "model.g_width=16", "model.f_width=16"])
    return ReasoningTask(to_dict(cfg))


def _rank(rank: int, port: int, out: dict) -> None:
    from vrkit.engine.evaluate import evaluate, parse_data_spec

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2, timeout=datetime.timedelta(seconds=60))
    try:
        if rank == 0:  # rank 1 goes straight to the barrier, as a rank that is training would
            res = evaluate(_task(), parse_data_spec([SOURCE], "classification"), 16)
            out["acc"], out["examples"] = res["acc"], res["examples"]
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_evaluate_on_one_rank_neither_waits_nor_sums_ranks():
    from vrkit.engine.evaluate import evaluate, parse_data_spec

    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_rank, args=(_free_port(), out), nprocs=2, join=True)
        in_ddp = dict(out)
    alone = evaluate(_task(), parse_data_spec([SOURCE], "classification"), 16)
    assert in_ddp["examples"] == alone["examples"] == 48
    assert in_ddp["acc"] == alone["acc"]
