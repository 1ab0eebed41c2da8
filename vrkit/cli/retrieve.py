"""`vrkit retrieve index|query|eval`: relational content-based image retrieval (R-CBIR) on CLEVR."""

from __future__ import annotations

import argparse
import sys

from vrkit.cli._args import add_group


def _ints(text: str) -> list[int]:
    try:
        values = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _cmd_index(args: argparse.Namespace) -> int:
    from vrkit.retrieval.features import extract_index, index_paths, save_index
    from vrkit.utils.files import check_output_file

    for p in index_paths(args.out):  # before the (long) extraction
        check_output_file(p)
    index = extract_index(args.ckpt, args.data, args.kind, split=args.split, batch_size=args.batch_size,
                          question=args.question, label=args.label, limit=args.limit, seed=args.seed,
                          progress=not args.quiet, pool=args.pool)
    npz, side = save_index(index, args.out)
    dim = index.features.shape[1]
    print(f"indexed {len(index)} images: {args.kind} features of dim {dim} -> {npz} (+ {side.name})")
    return 0


def _cmd_query(args: argparse.Namespace) -> int:
    from vrkit.retrieval.features import load_index
    from vrkit.retrieval.query import find_image, query_index, write_grid

    index = load_index(args.index)
    hits = query_index(index, args.image, args.k, args.mode)
    q = find_image(index, args.image)
    print(f"query: {index.filenames[q]}  ({index.name}, {len(index)} images)")
    print(f"{'rank':>4}  {'filename':<28} {'distance':>10} {args.mode + ' GED':>9}")
    for h in hits:
        print(f"{h['rank']:>4}  {h['filename']:<28} {h['distance']:>10.4f} {h['ged']:>9.2f}")
    if args.out:
        write_grid(index, hits, args.out, q, mode=args.mode)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from vrkit.retrieval.evaluation import evaluate_indexes, format_markdown, write_results
    from vrkit.retrieval.features import index_paths, load_index
    from vrkit.utils.files import check_output_dir

    unique = {str(index_paths(p)[0].resolve()): p for p in args.indexes}  # X.npz and X.json name one index
    indexes = [load_index(p) for p in unique.values()]
    modes = ("soft", "hard") if args.mode == "both" else (args.mode,)
    cache = args.cache_dir
    if cache is None:
        from vrkit.engine.datamodules.clevr import cache_root

        cache = cache_root() / "rcbir-ged"
    if str(cache) != "none":
        check_output_dir(cache)
    result = evaluate_indexes(indexes, args.queries, args.gallery, modes, args.ks, args.seed, args.relevance,
                              cache_dir=None if str(cache) == "none" else cache, workers=args.workers,
                              progress=not args.quiet,
                              log=None if args.quiet else (lambda s: print(s, file=sys.stderr)))
    print(format_markdown(result))
    if args.out:
        md, js = write_results(result, args.out)
        print(f"wrote {md} and {js}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from vrkit.retrieval.features import KINDS, POOLS

    _, rsub = add_group(sub, "retrieve", "R-CBIR: index images with a trained model, query, evaluate against GED",
                        "retrieve_command")

    ix = rsub.add_parser("index", help="one feature vector per image of a CLEVR split -> IDX.npz + IDX.json")
    ix.add_argument("--ckpt", required=True, help="checkpoint of a CLEVR model (relation_net, samnet, mac)")
    ix.add_argument("--data", required=True, help="CLEVR root (scenes/, images/) or generated directory")
    ix.add_argument("--out", required=True, help="index path (IDX or IDX.npz; the sidecar is IDX.json)")
    ix.add_argument("--kind", choices=KINDS, default="2s",
                    help="2s / avf (relation_net), summary (samnet, mac), cnn, cnn-untrained (default 2s)")
    ix.add_argument("--pool", choices=POOLS, default="mean",
                    help="2s / avf: each pair's vector L2-normalised, then the mean or max over pairs (the "
                    "reference's extract.py), or 'sum': vrkit's raw pooled vector (default mean)")
    ix.add_argument("--split", help="split name (default: the only split of the directory)")
    ix.add_argument("--batch-size", type=int, default=64)
    ix.add_argument("--question", help="question asked with every image (default: 'How many objects are there?')")
    ix.add_argument("--label", help="display name in evaluation tables")
    ix.add_argument("--limit", type=int, help="index only the first N images")
    ix.add_argument("--seed", type=int, default=0, help="initialisation seed of cnn-untrained")
    ix.add_argument("--quiet", action="store_true", help="no progress bar")
    ix.set_defaults(handler=_cmd_index)

    q = rsub.add_parser("query", help="nearest images to one indexed image (+ an image grid PNG)")
    q.add_argument("index", help="index path (IDX or IDX.npz)")
    q.add_argument("--image", required=True, help="image file name in the index, or its position")
    q.add_argument("-k", type=int, default=10, help="results, the query itself first (default 10)")
    q.add_argument("--mode", choices=("soft", "hard"), default="soft", help="GED node cost (default soft)")
    q.add_argument("--out", help="write an image grid PNG here")
    q.set_defaults(handler=_cmd_query)

    ev = rsub.add_parser("eval", help="Spearman-rho and nDCG@k against GED for indexes of the same images")
    ev.add_argument("indexes", nargs="+", help="index paths (same images, e.g. one split, several models)")
    ev.add_argument("--queries", type=int, default=500)
    ev.add_argument("--gallery", type=int, default=5000)
    ev.add_argument("--mode", choices=("soft", "hard", "both"), default="both")
    ev.add_argument("--ks", type=_ints, default=[10, 100], help="nDCG cut-offs, comma-separated (default 10,100)")
    ev.add_argument("--relevance", choices=("linear", "exp"), default="linear",
                    help="graded relevance from GED for nDCG (default linear: max GED of the query minus GED)")
    ev.add_argument("--seed", type=int, default=0, help="query/gallery split seed")
    ev.add_argument("--workers", type=int, default=2, help="GED worker processes")
    ev.add_argument("--cache-dir", help="GED table cache (default $VRKIT_CACHE_DIR/rcbir-ged; 'none' = off)")
    ev.add_argument("--out", help="Markdown table path (the JSON result goes next to it)")
    ev.add_argument("--quiet", action="store_true", help="no progress output")
    ev.set_defaults(handler=_cmd_eval)
