"""The `ganeval` command: parse the arguments, hand them to ganeval.commands, map errors to exit codes.

Bad input and usage errors are one line on stderr (a usage error adds the subcommand's short usage) and exit code 2.
This module imports neither torch nor pandas: `ganeval --help` and usage errors answer at once; the command's own
module (ganeval.commands) is imported once the arguments are known to be good.
"""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .arguments import EXTRACTOR_NAMES, option_dest
from .config import (DEFAULT_DIST_TIMEOUT_S, DEFAULT_REPLICATES, DEFAULT_SEED, DataConfig, ExtractorConfig,
                     GeneratorOptions, ScoreConfig, flag_fields)
from .errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, GanevalError
from .metrics.registry import METRIC_FAMILIES, computed_families, default_families
from .presets import PRESETS

RESIZE_MODES = ("tf1", "clean", "torch")  # ganeval.features.resize.RESIZE_MODES (tests/test_cli_usage.py checks)
COMPARE_SELECTIONS = ("best", "last", "all")
COMPARE_FORMATS = ("table", "markdown", "csv", "json", "html")
# The ScoreConfig flags of `ref build` and `ref export`: a reference has no reference subset, EMA or latents.
REFERENCE_FIELDS = ("num_samples", "seed", "batch_size", "exact", "channels_last", "allow_tf32", "device")
_FLAG_TYPES = {"int": int, "float": float, "str": str, "bool": bool}


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


def _field_type(item: dataclasses.Field) -> type:
    """A flag's type: the field's annotation less `| None` ('int | None' -> int). Annotations are strings under
    `from __future__ import annotations`, classes in a module without it (a plugin's options may be either)."""
    annotation = item.type if isinstance(item.type, str) else getattr(item.type, "__name__", str(item.type))
    names = [name.strip() for name in annotation.split("|") if name.strip() != "None"]
    if len(names) != 1 or names[0] not in _FLAG_TYPES:
        raise TypeError(f"field {item.name}: a flag is int, float, str or bool (or one of them | None), not {annotation}")
    return _FLAG_TYPES[names[0]]


def _field_default(item: dataclasses.Field) -> Any:
    if item.default is dataclasses.MISSING:  # a default_factory would be one shared object in the parser
        raise TypeError(f"field {item.name}: a flag needs a plain default")
    return item.default


def _add_field_flag(parser: argparse._ActionsContainer, flag: str, dest: str, item: dataclasses.Field,
                    metavar: str | None = None, choices: Sequence[str] | None = None) -> None:
    """One flag for dataclass field `item`, its value stored under `dest`: type and default from the field, help
    from its metadata."""
    kind = item.metadata.get("parse") or _field_type(item)
    default, help = _field_default(item), item.metadata.get("help")
    if kind is not bool:
        parser.add_argument(flag, dest=dest, type=kind, default=default, help=help, metavar=metavar, choices=choices)
    elif default:  # a switch that is on by default needs its off form too: --x / --no-x
        parser.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=True, help=help)
    else:
        parser.add_argument(flag, dest=dest, action="store_true", help=help)


def add_config_flags(parser: argparse._ActionsContainer, cls: type, names: Sequence[str] | None = None) -> None:
    """A flag for each field of config dataclass `cls` that carries flag metadata (config.flag), or for the fields
    `names` only, in that order. The dest is the field's name, which score_config reads back."""
    fields = {item.name: item for item in flag_fields(cls)}
    unknown = [name for name in names or () if name not in fields]
    if unknown:
        raise ValueError(f"{cls.__name__} has no flag fields {unknown}")
    for name in fields if names is None else names:
        item = fields[name]
        _add_field_flag(parser, item.metadata["flag"], name, item, item.metadata["metavar"], item.metadata["choices"])


def add_metric_option_flags(parser: argparse._ActionsContainer) -> None:
    """--FAMILY-FIELD for each options field of each family registered now (kid's subset_size ->
    --kid-subset-size), with the option's default and help: a plugin's family, registered before the parser is
    built, gets its flags too."""
    for family in METRIC_FAMILIES.values():
        for item in family.option_fields():
            dest = option_dest(family.name, item.name)
            _add_field_flag(parser, "--" + dest.replace("_", "-"), dest, item, item.metadata.get("metavar"))


def _metrics_help() -> str:
    """Read from the registry when the parser is built, so a family registered in-process is listed."""
    recorded = "".join(f"; {family.name} is recorded by `{family.scored_by}`, not computed here"
                       for family in METRIC_FAMILIES.values() if family.scored_by is not None)
    return (f"comma-separated families from {', '.join(computed_families())} "
            f"(default: {','.join(default_families())} where the extractor allows){recorded}")


def build_parser() -> _Parser:
    """The whole `ganeval` parser, built now: score's metric flags are those of the families registered now."""
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
    _add_diagnose_command(commands)
    _add_human_commands(commands)
    _add_neighbours_command(commands)
    _add_log_command(commands)
    _add_demo_command(commands)
    return parser


def _add_process_options(parser: argparse.ArgumentParser) -> None:
    """Options of every command."""
    parser.add_argument("--threads", type=int, metavar="N",
                        help="CPU threads for torch (default: the cores torch sees; 1 per process under torchrun)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    """Options of every command that runs networks (--device and --data-root as ScoreConfig and DataConfig say)."""
    add_config_flags(parser, ScoreConfig, ("device",))
    add_config_flags(parser, DataConfig, ("data_root",))
    _add_quiet_and_process_options(parser)


def _add_quiet_and_process_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_process_options(parser)


def _add_extraction_options(parser: argparse.ArgumentParser, score_fields: Sequence[str] | None,
                            sharded: bool = True) -> None:
    """Options of every command that reads samples and extracts features: the extractor's, ScoreConfig's flags
    `score_fields` (None: all) and DataConfig's; `sharded` commands run under torchrun, with --dist-timeout."""
    _add_extractor_options(parser)
    add_config_flags(parser, ScoreConfig, score_fields)
    add_config_flags(parser, DataConfig)
    _add_quiet_and_process_options(parser)
    if not sharded:
        return
    parser.add_argument("--dist-timeout", type=float, default=DEFAULT_DIST_TIMEOUT_S, metavar="SECONDS",
                        help=f"under torchrun: how long a process waits for the others before all stop (default "
                             f"{DEFAULT_DIST_TIMEOUT_S})")


def _add_extractor_options(parser: argparse.ArgumentParser) -> None:
    """Written out: together they are one ExtractorConfig (see extractor_config), no one field of it."""
    parser.add_argument("--extractor", default=ExtractorConfig.name, help=f"feature extractor: auto, "
                        f"{', '.join(EXTRACTOR_NAMES)} (default: auto), or several comma-separated (score: a "
                        "record each, from one read of the data); torchscript:PATH is code you must trust: it "
                        "runs with your permissions")
    parser.add_argument("--trust-extractor", action="store_true",
                        help="allow loading --extractor torchscript:PATH: a TorchScript file is a program, run with "
                             "your permissions (or set GANEVAL_TRUST_TORCHSCRIPT=1)")
    parser.add_argument("--weights", action="append", metavar="[EXTRACTOR=]PATH",
                        help="weights file of the extractor (EXTRACTOR=PATH where several are named; repeatable); "
                             "default: its environment variable, then the torch hub and Hugging Face caches")
    parser.add_argument("--inception-weights", metavar="PATH", help="weights file for inception-v3-compat")
    parser.add_argument("--resize", choices=RESIZE_MODES, help="inception-v3-compat: how images reach 299 px: tf1 "
                        "(torch-fidelity's TF1-compatible bilinear, the default and what published FIDs use), clean "
                        "(clean-fid's PIL bicubic, antialiased) or torch (bilinear, antialiased)")


def _add_score_command(commands) -> None:
    score_parser = commands.add_parser("score", help="score samples against a reference")
    score_parser.add_argument("input", help="samples to score: a source spec (fashion-mnist:test, ring8, ...), an array "
                              "file, a folder or zip of images, a checkpoint or run, or a generator: "
                              "python:MODULE:FUNCTION, an .onnx file, a TorchScript or .pt2 file (with --latent-dim)")
    score_parser.add_argument("reference_positional", nargs="?", metavar="REFERENCE",
                              help="the reference, as in `pytorch_fid A B` (the same as --reference)")
    score_parser.add_argument("--reference", help="reference: the same forms as INPUT, ref:KEY, or an .npz with mu and sigma")
    score_parser.add_argument("--metrics", default=None, help=_metrics_help())
    score_parser.add_argument("--preset", choices=tuple(PRESETS), help="a protocol by its published name: "
                              + "; ".join(f"{preset.name}: {preset.citation}" for preset in PRESETS.values())
                              + ". Sets the extractor, metrics and N; the record names it")
    add_metric_option_flags(score_parser.add_argument_group("metric options"))
    # the output flags are the command's, not the score's: no ScoreConfig field holds them
    score_parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    score_parser.add_argument("--out", type=Path, metavar="FILE", help="also write the record as JSON to FILE")
    score_parser.add_argument("--append", type=Path, metavar="RUN",
                              help="also append the record to RUN/metrics.jsonl, for compare, report and gate")
    score_parser.add_argument("--save-stats", type=Path, metavar="PATH",
                              help="write the input's feature mean and covariance to PATH.npz (pytorch-fid's mu/sigma)")
    score_parser.add_argument("--no-cache", action="store_true", help="neither read nor write cached reference statistics")
    _add_log_option(score_parser)
    # --ci and --ci-replicates are one field, ScoreConfig.ci (BootstrapOptions or None)
    score_parser.add_argument("--ci", type=float, metavar="LEVEL", help="add bootstrap confidence intervals at this "
                              "level, e.g. 0.95 (resampling the extracted features; nothing is extracted twice)")
    score_parser.add_argument("--ci-replicates", type=int, default=DEFAULT_REPLICATES,
                              help=f"bootstrap replicates for --ci (default {DEFAULT_REPLICATES})")
    generator = score_parser.add_argument_group("a generator of your own (INPUT python:MODULE:FUNCTION, .onnx, "
                                                 "TorchScript, .pt2)")
    add_config_flags(generator, GeneratorOptions)
    generator.add_argument("--generator-arg", action="append", default=[], metavar="KEY=VALUE",
                           help="a keyword argument of a python: factory, e.g. checkpoint=G.pt (repeatable)")
    _add_extraction_options(score_parser, None)
    score_parser.set_defaults(handler="run_score")


def _add_ref_commands(commands) -> None:
    ref_parser = commands.add_parser("ref", help="build, list, show and export cached reference statistics")
    ref_commands = ref_parser.add_subparsers(dest="ref_command", required=True, parser_class=_Parser, metavar="ACTION")
    build = ref_commands.add_parser("build", help="extract and cache the statistics of a reference source")
    build.add_argument("spec", help="source spec: fashion-mnist:train, a folder, an array file, ...")
    _add_extraction_options(build, REFERENCE_FIELDS)
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
    _add_extraction_options(export, REFERENCE_FIELDS, sharded=False)
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
    _add_log_option(train_parser, "also send the scores and training signals to a tracker after each checkpoint: ")
    _add_common_options(train_parser)
    train_parser.set_defaults(handler="run_train")


def _add_sample_command(commands) -> None:
    sample_parser = commands.add_parser("sample", help="write samples of a checkpoint for other tools")
    sample_parser.add_argument("checkpoint", help="a checkpoint file (runs/NAME/checkpoints/step-XXXXXXX.pt)")
    sample_parser.add_argument("--num-samples", type=int, required=True, metavar="N", help="how many samples")
    sample_parser.add_argument("--out", type=Path, required=True, help="FILE.npz (or .npy), or a folder for PNG images")
    sample_parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"latent seed (default {DEFAULT_SEED})")
    sample_parser.add_argument("--ema", action="store_true", help="use the generator's EMA weights")
    sample_parser.add_argument("--class", dest="label_class", type=int, metavar="K",
                               help="a class-conditional checkpoint: every sample of class K (0..num_classes-1); "
                                    "default: each sample's class drawn uniformly from the seed")
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


# ganeval.diagnose.KINDS (tests/test_diagnose.py checks): this module does not import torch, which diagnose does
DIAGNOSIS_KINDS = ("divergence", "discriminator_wins", "oscillation", "mode_collapse", "mode_hopping",
                   "learning_rate_mismatch")


def _add_diagnose_command(commands) -> None:
    parser = commands.add_parser("diagnose", help="name a run's training failures (divergence, D winning, oscillation, "
                                 "mode collapse, a learning-rate mismatch) from its signals and scores")
    parser.add_argument("runs", nargs="+", metavar="RUN_OR_GLOB",
                        help="run directories (training.jsonl, metrics.jsonl), folders of runs or glob patterns")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per run and line: run, healthy, findings (kind, first_step, last_step, "
                        "evidence, remedy, citation), not_judged, rates")
    parser.add_argument("--fail-on", metavar="KIND,...",
                        help=f"exit 1 when a run shows one of these kinds ({', '.join(DIAGNOSIS_KINDS)}; or any)")
    parser.add_argument("--duality-gap", action="store_true",
                        help="also the duality gap of each checkpoint (Grnarova et al. 2019; ganeval checkpoints): two "
                        "200-step searches each, about 20 s per fmnist-dcgan checkpoint on 2 CPU cores")
    _add_common_options(parser)
    parser.set_defaults(handler="run_diagnose")


HUMAN_DEFAULT_CHECKS = 4  # ganeval.human.study.DEFAULT_CHECKS (tests/test_human.py checks)
HUMAN_DEFAULT_REPLICATES = 1000  # cheap here (a raters x images matrix), and the percentile tails need them


# The ScoreConfig flags of `neighbours`: which samples and how they are extracted (the metric is copies, on --train).
NEIGHBOURS_FIELDS = ("num_samples", "seed", "batch_size", "exact", "channels_last", "allow_tf32", "device", "ema",
                     "latents")


def _add_neighbours_command(commands) -> None:
    parser = commands.add_parser("neighbours", help="draw the most copy-like generated samples beside their nearest "
                                 "training images (feature and pixel space), worst first")
    parser.add_argument("input", help="the generated images: a checkpoint, a run (its last checkpoint), a folder, an "
                        "array file or a source spec")
    parser.add_argument("--train", metavar="REF", help="the images the generator was trained on (a source spec, "
                        "folder or array file; default for ganeval checkpoints: the run's data)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="the folder for neighbours.png and neighbours.json")
    parser.add_argument("--count", type=int, default=32, metavar="N", help="samples shown (default 32)")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write cached reference statistics")
    _add_extraction_options(parser, NEIGHBOURS_FIELDS, sharded=False)
    parser.set_defaults(handler="run_neighbours")


def _add_human_commands(commands) -> None:
    human_parser = commands.add_parser("human", help="a blind real-or-generated study in the browser, scored like "
                                       "HYPE-infinity: make the study, score the raters' answers")
    actions = human_parser.add_subparsers(dest="human_command", required=True, parser_class=_Parser, metavar="ACTION")
    make = actions.add_parser("make", help="write a study folder: index.html for the raters, key.json for you")
    make.add_argument("source", metavar="SOURCE", help="the generated images: a checkpoint, a run (its last "
                      "checkpoint), a folder, an array file or a source spec")
    make.add_argument("--reference", required=True, metavar="REF",
                      help="the real images, in any form SOURCE takes (fashion-mnist:test, a folder, ...)")
    make.add_argument("--num-images", type=int, default=100, metavar="N",
                      help="images to judge, half generated and half real (even; default 100)")
    make.add_argument("--checks", type=int, default=HUMAN_DEFAULT_CHECKS, metavar="K",
                      help=f"attention checks added: obvious fakes (noise, a flat grey image) whose answers are left "
                           f"out of the rates and reported (default {HUMAN_DEFAULT_CHECKS})")
    make.add_argument("--out", type=Path, required=True, metavar="STUDY", help="the study folder (new or empty)")
    make.add_argument("--seed", type=int, default=DEFAULT_SEED,
                      help=f"seed of the images drawn (default {DEFAULT_SEED}); their ids and order also take a secret "
                           "drawn per study, so the page cannot be decoded from the seed")
    add_config_flags(make, ScoreConfig, ("ema", "device"))
    add_config_flags(make, DataConfig)
    _add_quiet_and_process_options(make)
    make.set_defaults(handler="run_human_make")
    score = actions.add_parser("score", help="HYPE rates of the raters' answers: per rater, pooled, a record")
    score.add_argument("study", metavar="STUDY", type=Path, help="the study folder `ganeval human make` wrote")
    score.add_argument("answers", metavar="ANSWERS", nargs="+", type=Path,
                       help="the answers.json file of each rater (one per rater)")
    score.add_argument("--ci", type=float, nargs="?", const=0.95, metavar="LEVEL",
                       help="bootstrap intervals over raters and images at this level (--ci alone: 0.95)")
    score.add_argument("--ci-replicates", type=int, default=HUMAN_DEFAULT_REPLICATES, metavar="N",
                       help=f"bootstrap replicates for --ci (default {HUMAN_DEFAULT_REPLICATES})")
    score.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"seed of the bootstrap (default {DEFAULT_SEED})")
    score.add_argument("--max-check-failures", type=int, metavar="K",
                       help="leave out of the pooled rates the raters who failed more than K attention checks "
                            "(default: every rater counts; failures are reported)")
    score.add_argument("--append", type=Path, metavar="RUN", help="append the record to RUN/metrics.jsonl (default: "
                       "the run of the study's checkpoint, else STUDY/metrics.jsonl)")
    score.add_argument("--out", type=Path, metavar="FILE", help="also write the record as JSON to FILE")
    score.add_argument("--json", action="store_true", help="print the record as one JSON object instead of a table")
    _add_log_option(score)
    _add_process_options(score)
    score.set_defaults(handler="run_human_score")


SINKS_HELP = ("tensorboard:DIR, mlflow:URI (http://HOST:PORT, sqlite:///PATH or a folder) or wandb[:PROJECT] "
              "(offline unless WANDB_MODE says otherwise); repeatable; docs/trackers.md")


def _add_log_option(parser: argparse.ArgumentParser,
                    what: str = "also send each record to a tracker, after metrics.jsonl: ") -> None:
    """--log SINK, repeatable: checked (tracker, target, package) before the command does any work."""
    parser.add_argument("--log", action="append", default=[], metavar="SINK", help=what + SINKS_HELP)


def _add_log_command(commands) -> None:
    parser = commands.add_parser("log", help="send runs' metrics.jsonl and training.jsonl to a tracker, skipping what "
                                 "it already holds (after a tracker was down, or for runs scored without --log)")
    parser.add_argument("runs", nargs="+", metavar="RUN", type=Path, help="run directories")
    parser.add_argument("--to", action="append", required=True, metavar="SINK", help=SINKS_HELP)
    _add_process_options(parser)
    parser.set_defaults(handler="run_log")


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
            from .progress import showing
            from .threads import torch_threads

            # --quiet silences every bar, those of loaders deep below the command too (ref build, train); under
            # torchrun only rank 0 shows any
            quiet = getattr(args, "quiet", False) or os.environ.get("RANK", "0") != "0"
            with torch_threads(args.threads), showing(False if quiet else None):
                return getattr(commands, args.handler)(args)
        except GanevalError as error:
            if getattr(args, "debug", False):
                raise
            print(f"ganeval: error{_rank_text()}: {error}", file=sys.stderr)
            return error.exit_code
        except KeyboardInterrupt as interrupt:  # a training run's carries the signal's code (143 for SIGTERM)
            print("ganeval: interrupted", file=sys.stderr)
            return getattr(interrupt, "exit_code", EXIT_INTERRUPTED)


def _rank_text() -> str:
    """' (rank 1 of 2)' under torchrun, so that the line says which process failed; '' in one process."""
    size = os.environ.get("WORLD_SIZE", "1")
    return f" (rank {os.environ.get('RANK', '0')} of {size})" if size not in ("", "1") else ""


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if os.environ.get("RANK", "0") != "0":  # under torchrun every rank sees the same data: rank 0 says it once
        return
    print(f"ganeval: warning: {message}", file=sys.stderr)
