"""The `ganeval` command: parse the arguments, hand them to ganeval.commands, map errors to exit codes.

Bad input and usage errors are one line on stderr (a usage error adds the subcommand's short usage) and exit code 2.
This module imports neither torch nor pandas: `ganeval --help` and usage errors answer at once; the command's own
module (ganeval.commands) is imported once the arguments are known to be good.
"""
from __future__ import annotations

import argparse
import difflib
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, GanevalError
from .metrics.registry import DEFAULT_REPLICATES, DEFAULT_SEED, METRIC_FAMILIES

# Listed here rather than read from the registry, which imports torch; tests/test_cli_usage.py keeps them in step.
EXTRACTOR_NAMES = ("fmnist-classifier", "identity", "inception-v3-compat", "torchscript:PATH")
COMPARE_SELECTIONS = ("best", "last", "all")
COMPARE_FORMATS = ("table", "markdown", "csv", "json", "html")
LATENT_KINDS = ("normal", "sobol")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is the same one line and exit code as every other bad input, followed by the
    subcommand's short usage; no abbreviated flags (`--ref` must not quietly mean `--reference`)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n{self.short_usage()}\n")

    def short_usage(self) -> str:
        """'usage: ganeval score INPUT [REFERENCE] [options] (ganeval score --help lists them)'."""
        positionals = []
        for action in self._actions:
            if action.option_strings or action.help == argparse.SUPPRESS:
                continue
            if isinstance(action, argparse._SubParsersAction):
                positionals.append("{" + ",".join(action.choices) + "}")
                continue
            metavar = action.metavar or action.dest.upper()
            optional = action.nargs in ("?", "*")
            repeated = "..." if action.nargs in ("+", "*") else ""
            positionals.append(f"[{metavar}{repeated}]" if optional else f"{metavar}{repeated}")
        return f"usage: {self.prog} {' '.join(positionals)} [options]  ({self.prog} --help lists them)"

    def option_names(self) -> list[str]:
        return [name for action in self._actions for name in action.option_strings]


def build_parser() -> _Parser:
    parser = _Parser(prog="ganeval", description="Evaluation and metrics for GANs.")
    parser.add_argument("--version", action="version", version=f"ganeval {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    _add_score_command(commands)
    _add_ref_commands(commands)
    _add_train_command(commands)
    _add_sample_command(commands)
    _add_train_classifier_command(commands)
    _add_compare_command(commands)
    _add_report_command(commands)
    _add_gate_command(commands)
    _add_demo_command(commands)
    return parser


def _add_process_options(parser: argparse.ArgumentParser) -> None:
    """Options of every command."""
    parser.add_argument("--threads", type=int, metavar="N",
                        help="CPU threads for torch (default: the cores torch sees; 1 per process under torchrun)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    """Options of every command that runs networks."""
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    parser.add_argument("--data-root", metavar="DIR", help="folder holding datasets (default: $GANEVAL_DATA, system folders)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_process_options(parser)


def _add_extraction_options(parser: argparse.ArgumentParser) -> None:
    """Options of every command that reads samples and extracts features."""
    parser.add_argument("--extractor", default="auto", help=f"feature extractor: auto, {', '.join(EXTRACTOR_NAMES)} "
                        "(default: auto); torchscript:PATH is code you must trust: it runs with your permissions")
    parser.add_argument("--trust-extractor", action="store_true",
                        help="allow loading --extractor torchscript:PATH: a TorchScript file is a program, run with "
                             "your permissions (or set GANEVAL_TRUST_TORCHSCRIPT=1)")
    parser.add_argument("--inception-weights", metavar="PATH", help="weights file for inception-v3-compat")
    parser.add_argument("--num-samples", type=int, metavar="N", help="use a seeded random subset of N samples")
    parser.add_argument("--max-image-pixels", type=int, metavar="N",
                        help="refuse images of more than N pixels (width x height), read from their headers before "
                             "decoding (default 67108864 = 8192x8192)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"seed for subsets and resampling (default {DEFAULT_SEED})")
    parser.add_argument("--batch-size", type=int, default=64, help="extraction batch size (default 64)")
    parser.add_argument("--download", action="store_true", help="download datasets through torchvision if missing")
    _add_common_options(parser)


def _add_score_command(commands) -> None:
    score_parser = commands.add_parser("score", help="score samples against a reference")
    score_parser.add_argument("input", help="samples to score: a source spec (fashion-mnist:test, ring8, ...), an array file, a folder or zip of images")
    score_parser.add_argument("reference_positional", nargs="?", metavar="REFERENCE",
                              help="the reference, as in `pytorch_fid A B` (the same as --reference)")
    score_parser.add_argument("--reference", help="reference: the same forms as INPUT, ref:KEY, or an .npz with mu and sigma")
    score_parser.add_argument(
        "--metrics", default=None,
        help=f"comma-separated families from {', '.join(METRIC_FAMILIES)} (default: fid,is,kid,prdc where the extractor allows)"
    )
    score_parser.add_argument("--kid-subsets", type=int, default=100, help="KID subsets (default 100)")
    score_parser.add_argument("--kid-subset-size", type=int, help="KID subset size (default min(1000, N))")
    score_parser.add_argument("--prdc-k", type=int, default=5, help="neighbourhood size for PRDC (default 5)")
    score_parser.add_argument("--is-splits", type=int, default=10, help="Inception Score splits (default 10)")
    score_parser.add_argument("--ndb-bins", type=int, default=100, help="K-means bins of NDB (default 100)")
    score_parser.add_argument("--reference-samples", type=int, metavar="N",
                              help="use a seeded random subset of N reference samples (default: all; --num-samples "
                                   "cuts the input only)")
    score_parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    score_parser.add_argument("--out", type=Path, metavar="FILE", help="also write the record as JSON to FILE")
    score_parser.add_argument("--append", type=Path, metavar="RUN",
                              help="also append the record to RUN/metrics.jsonl, for compare, report and gate")
    score_parser.add_argument("--save-stats", type=Path, metavar="PATH",
                              help="write the input's feature mean and covariance to PATH.npz (pytorch-fid's mu/sigma)")
    score_parser.add_argument("--no-cache", action="store_true", help="neither read nor write cached reference statistics")
    score_parser.add_argument("--ema", action="store_true", help="checkpoints: use the generator's EMA weights")
    score_parser.add_argument("--ci", type=float, metavar="LEVEL", help="add bootstrap confidence intervals at this "
                              "level, e.g. 0.95 (resampling the extracted features; nothing is extracted twice)")
    score_parser.add_argument("--ci-replicates", type=int, default=DEFAULT_REPLICATES,
                              help=f"bootstrap replicates for --ci (default {DEFAULT_REPLICATES})")
    score_parser.add_argument("--latents", default="normal", choices=LATENT_KINDS,
                              help="checkpoints: latents from a normal stream or a scrambled Sobol sequence (default normal)")
    _add_extraction_options(score_parser)
    score_parser.set_defaults(handler="run_score")


def _add_ref_commands(commands) -> None:
    ref_parser = commands.add_parser("ref", help="build, list, show and export cached reference statistics")
    ref_commands = ref_parser.add_subparsers(dest="ref_command", required=True, parser_class=_Parser, metavar="ACTION")
    build = ref_commands.add_parser("build", help="extract and cache the statistics of a reference source")
    build.add_argument("spec", help="source spec: fashion-mnist:train, a folder, an array file, ...")
    _add_extraction_options(build)
    build.set_defaults(handler="run_ref_build")
    listing = ref_commands.add_parser("list", help="list cached references")
    _add_process_options(listing)
    listing.set_defaults(handler="run_ref_list")
    show = ref_commands.add_parser("show", help="print the provenance card of a cached reference")
    show.add_argument("key", help="a key from `ganeval ref list`")
    _add_process_options(show)
    show.set_defaults(handler="run_ref_show")
    export = ref_commands.add_parser(
        "export", help="write a reference's mean and covariance as pytorch-fid statistics (.npz) and its card (.json)"
    )
    export.add_argument("spec", metavar="KEY|SPEC",
                        help="ref:KEY or a key from `ganeval ref list`, or a source spec as for `ref build` (built first)")
    export.add_argument("--out", type=Path, required=True, metavar="STATS.npz",
                        help="statistics file (mu, sigma); the card goes beside it as STATS.json")
    _add_extraction_options(export)
    export.set_defaults(handler="run_ref_export")


def _add_train_command(commands) -> None:
    train_parser = commands.add_parser("train", help="train a reference GAN from a config")
    train_parser.add_argument("config", help="a shipped config name (e.g. fmnist-dcgan; see README) or a .toml path")
    train_parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key (repeatable)")
    train_parser.add_argument("--out", type=Path, help="run directory (default runs/CONFIG_NAME)")
    train_parser.add_argument("--steps", type=int, help="train to this step (overrides the config)")
    train_parser.add_argument("--resume", action="store_true", help="continue from the run directory's last checkpoint")
    train_parser.add_argument("--overwrite", action="store_true",
                              help="start afresh in a run directory that holds a run: removes its checkpoints, samples and scores")
    train_parser.add_argument("--no-eval", action="store_true", help="do not score checkpoints while training (same as --set eval_every=0)")
    _add_common_options(train_parser)
    train_parser.set_defaults(handler="run_train")


def _add_sample_command(commands) -> None:
    sample_parser = commands.add_parser("sample", help="write samples of a checkpoint for other tools")
    sample_parser.add_argument("checkpoint", help="a checkpoint file (runs/NAME/checkpoints/step-XXXXXXX.pt)")
    sample_parser.add_argument("--num-samples", type=int, required=True, metavar="N", help="how many samples")
    sample_parser.add_argument("--out", type=Path, required=True, help="FILE.npz (or .npy), or a folder for PNG images")
    sample_parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"latent seed (default {DEFAULT_SEED})")
    sample_parser.add_argument("--ema", action="store_true", help="use the generator's EMA weights")
    _add_common_options(sample_parser)
    sample_parser.set_defaults(handler="run_sample")


def _add_train_classifier_command(commands) -> None:
    train_parser = commands.add_parser("train-classifier", help="train the Fashion-MNIST evaluator network")
    train_parser.add_argument("--epochs", type=int, help="training epochs (default: the shipped evaluator's, 6)")
    train_parser.add_argument("--seed", type=int, help="seed (default: the shipped evaluator's, 0)")
    # required: a default inside the package or the current folder would overwrite the shipped weights
    train_parser.add_argument("--out", type=Path, required=True, help="output folder for weights.pt and card.json")
    _add_common_options(train_parser)
    train_parser.set_defaults(handler="run_train_classifier")


def _add_compare_command(commands) -> None:
    compare_parser = commands.add_parser("compare", help="compare runs: one row per run, one column per metric")
    compare_parser.add_argument("runs", nargs="+", metavar="RUN_OR_GLOB", help="run directories, metrics.jsonl files, folders of runs or glob patterns")
    compare_parser.add_argument("--metrics", help="families or keys, e.g. fid,is,prdc (default: every metric recorded)")
    compare_parser.add_argument("--select", default="best", choices=COMPARE_SELECTIONS, help="checkpoint per run: best (by the first metric), last, or all")
    compare_parser.add_argument("--format", default="table", choices=COMPARE_FORMATS, help="output format (default table)")
    compare_parser.add_argument("--out", type=Path, help="write to FILE instead of printing")
    _add_process_options(compare_parser)
    compare_parser.set_defaults(handler="run_compare")


def _add_report_command(commands) -> None:
    report_parser = commands.add_parser("report", help="write an HTML and Markdown report comparing runs")
    report_parser.add_argument("runs", nargs="+", metavar="RUN_OR_GLOB", help="run directories, folders of runs or glob patterns")
    report_parser.add_argument("--out", type=Path, required=True, help="report folder, e.g. reports/NAME")
    report_parser.add_argument("--title", default="ganeval report")
    _add_process_options(report_parser)
    report_parser.set_defaults(handler="run_report")


def _add_gate_command(commands) -> None:
    gate_parser = commands.add_parser("gate", help="check scores against limits: exit 0 pass, 1 fail, 2 bad input")
    gate_parser.add_argument("targets", nargs="+", metavar="TARGET",
                             help="run directories, folders of runs, glob patterns, checkpoints .pt or metrics.jsonl files: each is gated")
    gate_parser.add_argument("--max", action="append", metavar="METRIC=LIMIT", help="fail when the value is above, e.g. fid=25 (repeatable)")
    gate_parser.add_argument("--min", action="append", metavar="METRIC=LIMIT", help="fail when the value is below, e.g. is=7")
    gate_parser.add_argument("--baseline", help="run (or checkpoint, or records file) that --max-regression compares with; "
                             "its checkpoint is chosen by --select like the targets'")
    gate_parser.add_argument("--max-regression", action="append", metavar="METRIC=ALLOWANCE",
                             help="fail when worse than the baseline by more than ALLOWANCE, e.g. fid=2.0")
    gate_parser.add_argument("--alpha", type=float, help="noise-aware regressions: fail only when worse beyond the "
                             "bootstrap noise at this significance level, e.g. 0.05 (records scored with --ci)")
    gate_parser.add_argument("--config", help="TOML file with a [tool.ganeval.gate] table (default: ./pyproject.toml)")
    gate_parser.add_argument("--select", default="last", choices=("last", "best"),
                             help="the one checkpoint of a run judged, every metric read from it: the last scored, "
                             "or the best by --select-by (default last)")
    gate_parser.add_argument("--select-by", metavar="METRIC",
                             help="with --select best: the metric that picks the checkpoint (default: the first limit's)")
    gate_parser.add_argument("--reference", help="only records scored against this reference (when a run has several)")
    gate_parser.add_argument("--setting", metavar="LABEL", help="only records of this setting, e.g. 'grid25, identity, "
                             "N=2500' (reference, extractor, samples: when a run has several, e.g. two sample sizes)")
    gate_parser.add_argument("--junit", type=Path, help="also write a JUnit XML report here")
    _add_process_options(gate_parser)
    gate_parser.set_defaults(handler="run_gate")


def _add_demo_command(commands) -> None:
    demo_parser = commands.add_parser("demo", help="train four reference GANs briefly, compare, report and gate (make demo)")
    demo_parser.add_argument("--runs", type=Path, default=Path("runs/demo"), help="where the runs go (default runs/demo)")
    demo_parser.add_argument("--out", type=Path, default=Path("reports/demo"), help="report folder (default reports/demo)")
    _add_common_options(demo_parser)
    demo_parser.set_defaults(handler="run_demo")


def _subcommand_parser(parser: _Parser, argv: Sequence[str]) -> _Parser:
    """The (sub)parser that will read `argv`'s options: `ganeval score ...` -> the score parser."""
    current = parser
    for token in argv:
        if token.startswith("-"):
            continue
        subparsers = [action for action in current._actions if isinstance(action, argparse._SubParsersAction)]
        if not subparsers or token not in subparsers[0].choices:
            break
        current = subparsers[0].choices[token]
    return current


def check_option_names(parser: _Parser, argv: Sequence[str]) -> None:
    """An unknown flag is named, with the closest valid one, before argparse can blame something else (a typo in
    `--refrence` would otherwise read as '--reference is required')."""
    command = _subcommand_parser(parser, argv)
    valid = command.option_names()
    for token in argv:
        if token == "--":
            break
        if not token.startswith("--"):
            continue
        name = token.split("=", 1)[0]
        if name not in valid:
            close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            command.error(f"unrecognized option {name}{hint}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `ganeval` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    check_option_names(parser, argv)
    args = parser.parse_args(argv)
    with warnings.catch_warnings():  # restores the caller's warning display when the command returns
        warnings.showwarning = _show_warning
        try:
            from . import commands
            from .threads import torch_threads

            with torch_threads(args.threads):
                return getattr(commands, args.handler)(args)
        except GanevalError as error:
            if getattr(args, "debug", False):
                raise
            print(f"ganeval: error: {error}", file=sys.stderr)
            return error.exit_code
        except KeyboardInterrupt as interrupt:  # a training run's carries the signal's code (143 for SIGTERM)
            print("ganeval: interrupted", file=sys.stderr)
            return getattr(interrupt, "exit_code", EXIT_INTERRUPTED)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"ganeval: warning: {message}", file=sys.stderr)
