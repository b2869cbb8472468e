"""The `ganeval` command: parse, call the library, print; bad input is one line on stderr and exit code 2."""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence

from . import __version__
from .errors import GanevalError
from .evaluate import DEFAULT_SEED, MetricOptions, score
from .features import names as extractor_names
from .metrics.registry import METRIC_FAMILIES

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are the same single line and exit code as every other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"ganeval: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ganeval", description="Evaluation and metrics for GANs.")
    parser.add_argument("--version", action="version", version=f"ganeval {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    score_parser = commands.add_parser("score", help="score samples against a reference")
    score_parser.add_argument("input", help="samples to score: .npy/.npz array, image folder, ring8, grid25")
    score_parser.add_argument("--reference", required=True, help="reference samples, in the same forms as INPUT")
    score_parser.add_argument(
        "--metrics", default=None, help=f"comma-separated families from {', '.join(METRIC_FAMILIES)} (default: all the extractor supports)"
    )
    score_parser.add_argument(
        "--extractor", default="auto", help=f"feature extractor: auto, {', '.join(extractor_names())} (default: auto)"
    )
    score_parser.add_argument("--inception-weights", metavar="PATH", help="weights file for inception-v3-compat")
    score_parser.add_argument("--num-samples", type=int, metavar="N", help="score a seeded subset of N samples per side")
    score_parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"seed for subsets and resampling (default {DEFAULT_SEED})")
    score_parser.add_argument("--batch-size", type=int, default=64, help="extraction batch size (default 64)")
    score_parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    score_parser.add_argument("--kid-subsets", type=int, default=100, help="KID subsets (default 100)")
    score_parser.add_argument("--kid-subset-size", type=int, help="KID subset size (default min(1000, N))")
    score_parser.add_argument("--prdc-k", type=int, default=5, help="neighbourhood size for PRDC (default 5)")
    score_parser.add_argument("--is-splits", type=int, default=10, help="Inception Score splits (default 10)")
    score_parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    score_parser.add_argument("--quiet", action="store_true", help="no progress bars")
    score_parser.add_argument("--debug", action="store_true", help="show tracebacks")
    score_parser.set_defaults(handler=run_score)
    return parser


def run_score(args: argparse.Namespace) -> int:
    options = MetricOptions(
        kid_subsets=args.kid_subsets, kid_subset_size=args.kid_subset_size, prdc_k=args.prdc_k, is_splits=args.is_splits
    )
    extractor_options = {"weights": args.inception_weights} if args.inception_weights else {}
    if extractor_options and args.extractor not in ("auto", "inception-v3-compat"):
        raise GanevalError(f"--inception-weights only applies to inception-v3-compat, not --extractor {args.extractor}")
    record = score(
        args.input,
        args.reference,
        args.metrics,
        extractor=args.extractor,
        extractor_options=extractor_options,
        num_samples=args.num_samples,
        seed=args.seed,
        batch_size=args.batch_size,
        device=args.device,
        options=options,
        progress=False if args.quiet else None,
    )
    print(json.dumps(record) if args.json else format_record(record))
    return EXIT_OK


def format_record(record: dict) -> str:
    """A readable table of one record: what was compared, then one metric per line."""
    lines = [
        f"input      {record['input']} ({record['num_samples']} samples)",
        f"reference  {record['reference']} ({record['num_reference']} samples)",
        f"extractor  {record['extractor']}   seed {record['seed']}",
        "",
        f"{'metric':<11}{'value':>14}",
    ]
    for family in METRIC_FAMILIES.values():
        for key in family.keys:
            if key in record:
                lines.append(f"{key:<11}{record[key]:>14.6g}")
    fid = record.get("diagnostics", {}).get("fid")
    if fid:
        lines.append(
            f"\nfid diagnostics: d={fid['dim']} rank={fid['rank']} "
            f"negative eigenvalue mass={fid['negative_eigenvalue_mass']:.2g} factor={fid['factor_method']}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `ganeval` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():  # restores the caller's warning display when the command returns
        warnings.showwarning = _show_warning
        try:
            return args.handler(args)
        except GanevalError as error:
            if getattr(args, "debug", False):
                raise
            print(f"ganeval: error: {error}", file=sys.stderr)
            return error.exit_code
        except KeyboardInterrupt:
            print("ganeval: interrupted", file=sys.stderr)
            return 130


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"ganeval: warning: {message}", file=sys.stderr)
