"""`vrkit convert mi-prometheus|rn-clevr REF --out CKPT`: reference SAMNet, MAC or RN weights → a vrkit checkpoint."""

from __future__ import annotations

import argparse
import json

from vrkit.cli._args import add_group


def _cmd_mi_prometheus(args: argparse.Namespace) -> int:
    from vrkit.engine.convert import convert_mi_prometheus

    origin = convert_mi_prometheus(args.ref, args.out, input_scale=args.input_scale, seed=args.seed,
                                   answers=args.answers)
    keys = ("reference", "model", "sha256", "input_scale", "answer_order")
    print(json.dumps({"out": str(args.out), **{k: origin[k] for k in keys if k in origin}}))
    return 0


def _cmd_rn_clevr(args: argparse.Namespace) -> int:
    from vrkit.engine.convert import convert_rn_clevr

    origin = convert_rn_clevr(args.ref, args.out, args.variant, words=args.words, answers=args.answers,
                              seed=args.seed)
    keys = ("reference", "variant", "sha256", "vocabulary", "answer_order")
    print(json.dumps({"out": str(args.out), **{k: origin[k] for k in keys}}))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    _, cs = add_group(sub, "convert", "convert reference checkpoints to vrkit checkpoints", "source", "SOURCE")
    q = cs.add_parser("mi-prometheus", help="SAMNet (VWM) or MAC (MACNetwork) of IBM mi-prometheus SAM-Net_v13 "
                      "→ vrkit samnet / mac (told apart by the tensor names)")
    q.add_argument("ref", help="reference checkpoint: a torch file with the state_dict, mi-prometheus's "
                   "checkpoint dict around it, or an .npz of the same arrays")
    q.add_argument("--out", required=True, help="vrkit checkpoint to write (.ckpt)")
    q.add_argument("--input-scale", type=float, default=255.0,
                   help="pixel scale the reference saw (255: its COG class feeds 0-255 frames; vrkit feeds [0, 1])")
    q.add_argument("--seed", type=int, default=0,
                   help="seed of what the reference lacks (SAMNet: pointing head; MAC: word embedding)")
    q.add_argument("--answers", default=None,
                   help="MAC: JSON of the reference's answers (list in index order, or its answer_dic) to map the "
                   "classifier rows to vrkit's answer order; without it they stay in the reference's order")
    q.set_defaults(handler=_cmd_mi_prometheus)
    r = cs.add_parser("rn-clevr", help="Relation Network of mesnico/RelationNetworks-CLEVR → vrkit relation_net")
    r.add_argument("ref", help="reference state_dict: a torch file (.pth/.pt, or a dict with a 'state_dict') or "
                   "an .npz of the same arrays")
    r.add_argument("--variant", required=True, choices=("original-fp", "ir-fp", "original-sd"),
                   help="the reference's config.json variant the weights belong to")
    r.add_argument("--out", required=True, help="vrkit checkpoint to write (.ckpt)")
    r.add_argument("--words", default=None, help="JSON of the reference's quest_to_ix ({word: id}) or its words "
                   "in row order, to map the embedding rows to vrkit's CLEVR vocabulary")
    r.add_argument("--answers", default=None, help="JSON of the reference's answers in classifier order (or "
                   "{answer: classifier index}), to map the classifier rows to vrkit's answer order")
    r.add_argument("--seed", type=int, default=0, help="run seed recorded in the checkpoint")
    r.set_defaults(handler=_cmd_rn_clevr)
