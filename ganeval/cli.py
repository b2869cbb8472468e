"""The `ganeval` command: parse, call the library, print; bad input is one line on stderr and exit code 2."""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from . import __version__, demo
from .errors import GanevalError
from .device import resolve_device
from .data import load_source
from .data.files import save_samples
from .evaluate import DEFAULT_SEED, MetricOptions, create_for, resolve_extractor_name, score
from .atomic import write_text_atomically
from .compare import FORMATS, SELECTIONS, compare, render
from .features.cache import cache_dir, list_references, read_card
from .gate import Limits, check_alpha, evaluate_limits, parse_limits, publish, read_limits, verdict_table
from .report import write_report
from .reference import reference_from_samples
from .runs import METRICS_FILE, checkpoints, is_run_dir, read_records
from .features import names as extractor_names
from .metrics.bootstrap import DEFAULT_REPLICATES, BootstrapOptions
from .metrics.registry import METRIC_FAMILIES
from .train.classifier import ClassifierTraining, save_classifier, train_classifier
from .train.config import load_config
from .train.loop import LATENT_KINDS, checkpoint_samples, train
from .train.scoring import CheckpointScorer

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are the same single line and exit code as every other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"ganeval: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ganeval", description="Evaluation and metrics for GANs.")
    parser.add_argument("--version", action="version", version=f"ganeval {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
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


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    parser.add_argument("--data-root", metavar="DIR", help="folder holding datasets (default: $GANEVAL_DATA, system folders)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")


def _add_extraction_options(parser: argparse.ArgumentParser) -> None:
    """Options of every command that reads samples and extracts features."""
    parser.add_argument("--extractor", default="auto", help=f"feature extractor: auto, {', '.join(extractor_names())} (default: auto)")
    parser.add_argument("--inception-weights", metavar="PATH", help="weights file for inception-v3-compat")
    parser.add_argument("--num-samples", type=int, metavar="N", help="use a seeded random subset of N samples")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"seed for subsets and resampling (default {DEFAULT_SEED})")
    parser.add_argument("--batch-size", type=int, default=64, help="extraction batch size (default 64)")
    parser.add_argument("--download", action="store_true", help="download datasets through torchvision if missing")
    _add_common_options(parser)


def _add_score_command(commands) -> None:
    score_parser = commands.add_parser("score", help="score samples against a reference")
    score_parser.add_argument("input", help="samples to score: a source spec (fashion-mnist:test, ring8, ...), an array file, a folder or zip of images")
    score_parser.add_argument("--reference", required=True, help="reference: the same forms as INPUT, ref:KEY, or an .npz with mu and sigma")
    score_parser.add_argument(
        "--metrics", default=None,
        help=f"comma-separated families from {', '.join(METRIC_FAMILIES)} (default: fid,is,kid,prdc where the extractor allows)"
    )
    score_parser.add_argument("--kid-subsets", type=int, default=100, help="KID subsets (default 100)")
    score_parser.add_argument("--kid-subset-size", type=int, help="KID subset size (default min(1000, N))")
    score_parser.add_argument("--prdc-k", type=int, default=5, help="neighbourhood size for PRDC (default 5)")
    score_parser.add_argument("--is-splits", type=int, default=10, help="Inception Score splits (default 10)")
    score_parser.add_argument("--ndb-bins", type=int, default=100, help="K-means bins of NDB (default 100)")
    score_parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    score_parser.add_argument("--no-cache", action="store_true", help="neither read nor write cached reference statistics")
    score_parser.add_argument("--ema", action="store_true", help="checkpoints: use the generator's EMA weights")
    score_parser.add_argument("--ci", type=float, metavar="LEVEL", help="add bootstrap confidence intervals at this "
                              "level, e.g. 0.95 (resampling the extracted features; nothing is extracted twice)")
    score_parser.add_argument("--ci-replicates", type=int, default=DEFAULT_REPLICATES,
                              help=f"bootstrap replicates for --ci (default {DEFAULT_REPLICATES})")
    score_parser.add_argument("--latents", default="normal", choices=LATENT_KINDS,
                              help="checkpoints: latents from a normal stream or a scrambled Sobol sequence (default normal)")
    _add_extraction_options(score_parser)
    score_parser.set_defaults(handler=run_score)


def _add_ref_commands(commands) -> None:
    ref_parser = commands.add_parser("ref", help="build, list and show cached reference statistics")
    ref_commands = ref_parser.add_subparsers(dest="ref_command", required=True, parser_class=_Parser)
    build = ref_commands.add_parser("build", help="extract and cache the statistics of a reference source")
    build.add_argument("spec", help="source spec: fashion-mnist:train, a folder, an array file, ...")
    _add_extraction_options(build)
    build.set_defaults(handler=run_ref_build)
    ref_commands.add_parser("list", help="list cached references").set_defaults(handler=run_ref_list)
    show = ref_commands.add_parser("show", help="print the provenance card of a cached reference")
    show.add_argument("key", help="a key from `ganeval ref list`")
    show.set_defaults(handler=run_ref_show)


def _add_train_command(commands) -> None:
    train_parser = commands.add_parser("train", help="train a reference GAN from a config")
    train_parser.add_argument("config", help="a config name from models/configs (e.g. fmnist-dcgan) or a .toml path")
    train_parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key (repeatable)")
    train_parser.add_argument("--out", type=Path, help="run directory (default runs/CONFIG_NAME)")
    train_parser.add_argument("--steps", type=int, help="train to this step (overrides the config)")
    train_parser.add_argument("--resume", action="store_true", help="continue from the run directory's last checkpoint")
    train_parser.add_argument("--no-eval", action="store_true", help="do not score checkpoints while training (same as --set eval_every=0)")
    _add_common_options(train_parser)
    train_parser.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace) -> int:
    overrides = list(args.set) + ([f"steps={args.steps}"] if args.steps is not None else [])
    config = load_config(args.config, overrides)
    out = args.out or Path("runs") / config.name
    device = resolve_device(args.device)
    scorer = None if args.no_eval else CheckpointScorer(config, device, args.data_root)
    trainer = train(config, out, device=device, resume=args.resume, data_root=args.data_root,
                    progress=False if args.quiet else None, on_checkpoint=scorer)
    scored = f"; scores in {out / METRICS_FILE}" if scorer and (out / METRICS_FILE).is_file() else ""
    budget = f" (of {config.steps}: the {config.max_minutes:g}-minute time budget ran out)" if trainer.ended_by_time_budget else ""
    print(f"{config.name}: step {trainer.step}{budget}; checkpoints in {out / 'checkpoints'}{scored}")
    return EXIT_OK


def _add_sample_command(commands) -> None:
    sample_parser = commands.add_parser("sample", help="write samples of a checkpoint for other tools")
    sample_parser.add_argument("checkpoint", help="a checkpoint file (runs/NAME/checkpoints/step-XXXXXXX.pt)")
    sample_parser.add_argument("--num-samples", type=int, required=True, metavar="N", help="how many samples")
    sample_parser.add_argument("--out", type=Path, required=True, help="FILE.npz (or .npy), or a folder for PNG images")
    sample_parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"latent seed (default {DEFAULT_SEED})")
    sample_parser.add_argument("--ema", action="store_true", help="use the generator's EMA weights")
    _add_common_options(sample_parser)
    sample_parser.set_defaults(handler=run_sample)


def run_sample(args: argparse.Namespace) -> int:
    samples, info = checkpoint_samples(args.checkpoint, args.num_samples, args.seed, ema=args.ema, device=resolve_device(args.device))
    out = save_samples(samples, args.out)
    print(f"{len(samples)} samples of {info['run']} step {info['step']} -> {out}")
    return EXIT_OK


def _add_train_classifier_command(commands) -> None:
    train_parser = commands.add_parser("train-classifier", help="train the Fashion-MNIST evaluator network")
    train_parser.add_argument("--epochs", type=int, default=ClassifierTraining.epochs, help=f"default {ClassifierTraining.epochs}")
    train_parser.add_argument("--seed", type=int, default=ClassifierTraining.seed, help=f"default {ClassifierTraining.seed}")
    train_parser.add_argument("--out", type=Path, default=Path("models/fmnist-classifier"), help="output folder")
    _add_common_options(train_parser)
    train_parser.set_defaults(handler=run_train_classifier)


def _add_compare_command(commands) -> None:
    compare_parser = commands.add_parser("compare", help="compare runs: one row per run, one column per metric")
    compare_parser.add_argument("runs", nargs="+", metavar="RUN_OR_GLOB", help="run directories, metrics.jsonl files, folders of runs or glob patterns")
    compare_parser.add_argument("--metrics", help="families or keys, e.g. fid,is,prdc (default: every metric recorded)")
    compare_parser.add_argument("--select", default="best", choices=SELECTIONS, help="checkpoint per run: best (by the first metric), last, or all")
    compare_parser.add_argument("--format", default="table", choices=FORMATS, help="output format (default table)")
    compare_parser.add_argument("--out", type=Path, help="write to FILE instead of printing")
    compare_parser.add_argument("--debug", action="store_true", help="show tracebacks")
    compare_parser.set_defaults(handler=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    text = render(compare(args.runs, args.metrics, args.select), args.format)
    if args.out:
        write_text_atomically(args.out, text)
        print(f"comparison written to {args.out}", file=sys.stderr)
    else:
        print(text, end="")
    return EXIT_OK


def _add_report_command(commands) -> None:
    report_parser = commands.add_parser("report", help="write an HTML and Markdown report comparing runs")
    report_parser.add_argument("runs", nargs="+", metavar="RUN_OR_GLOB", help="run directories, folders of runs or glob patterns")
    report_parser.add_argument("--out", type=Path, required=True, help="report folder, e.g. reports/NAME")
    report_parser.add_argument("--title", default="ganeval report")
    report_parser.add_argument("--debug", action="store_true", help="show tracebacks")
    report_parser.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    index = write_report(args.runs, args.out, args.title)
    print(f"report: {index} (and {args.out / 'README.md'})")
    return EXIT_OK


def _add_gate_command(commands) -> None:
    gate_parser = commands.add_parser("gate", help="check scores against limits: exit 0 pass, 1 fail, 2 bad input")
    gate_parser.add_argument("target", help="a run directory, a checkpoint .pt (its run's records) or a metrics.jsonl")
    gate_parser.add_argument("--max", action="append", metavar="METRIC=LIMIT", help="fail when the value is above, e.g. fid=25 (repeatable)")
    gate_parser.add_argument("--min", action="append", metavar="METRIC=LIMIT", help="fail when the value is below, e.g. is=7")
    gate_parser.add_argument("--baseline", help="run (or records file) that --max-regression compares with")
    gate_parser.add_argument("--max-regression", action="append", metavar="METRIC=ALLOWANCE",
                             help="fail when worse than the baseline by more than ALLOWANCE, e.g. fid=2.0")
    gate_parser.add_argument("--alpha", type=float, help="noise-aware regressions: fail only when worse beyond the "
                             "bootstrap noise at this significance level, e.g. 0.05 (records scored with --ci)")
    gate_parser.add_argument("--config", help="TOML file with a [tool.ganeval.gate] table (default: ./pyproject.toml)")
    gate_parser.add_argument("--select", default="last", choices=("last", "best"), help="which scored checkpoint of a run (default last)")
    gate_parser.add_argument("--reference", help="only records scored against this reference (when a run has several)")
    gate_parser.add_argument("--junit", type=Path, help="also write a JUnit XML report here")
    gate_parser.add_argument("--debug", action="store_true", help="show tracebacks")
    gate_parser.set_defaults(handler=run_gate)


def run_gate(args: argparse.Namespace) -> int:
    limits = read_limits(args.config)
    limits.update(Limits(parse_limits("max", args.max), parse_limits("min", args.min),
                         parse_limits("max_regression", args.max_regression), args.baseline,
                         None if args.alpha is None else check_alpha(args.alpha)))
    checks, description = evaluate_limits(limits, args.target, args.select, args.reference)
    print(verdict_table(checks, description))
    publish(checks, description, args.junit)
    return EXIT_OK if all(check.passed for check in checks) else EXIT_CHECK_FAILED


def _add_demo_command(commands) -> None:
    demo_parser = commands.add_parser("demo", help="train four reference GANs briefly, compare, report and gate (make demo)")
    demo_parser.add_argument("--runs", type=Path, default=Path("runs/demo"), help="where the runs go (default runs/demo)")
    demo_parser.add_argument("--out", type=Path, default=Path("reports/demo"), help="report folder (default reports/demo)")
    _add_common_options(demo_parser)
    demo_parser.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    return demo.run(args.runs, args.out, device=resolve_device(args.device), progress=False if args.quiet else None)


def _extractor_options(args: argparse.Namespace) -> dict[str, dict]:
    """Options by extractor name; score() refuses them when another extractor is chosen."""
    return {"inception-v3-compat": {"weights": args.inception_weights}} if args.inception_weights else {}


def run_train_classifier(args: argparse.Namespace) -> int:
    if args.epochs < 1:
        raise GanevalError(f"--epochs must be at least 1, got {args.epochs}")
    settings = ClassifierTraining(epochs=args.epochs, seed=args.seed)
    model, summary = train_classifier(
        settings, device=resolve_device(args.device), data_root=args.data_root, progress=False if args.quiet else None
    )
    weights = save_classifier(model, summary, args.out)
    print(f"test accuracy {summary['test_accuracy']:.4f} after {summary['train_seconds']:.0f} s; weights: {weights}")
    return EXIT_OK


def run_score(args: argparse.Namespace) -> int:
    """Score INPUT; a run directory scores each checkpoint not yet scored with these settings (one reference pass)."""
    if is_run_dir(args.input):
        done = {_settings_key(record) for record in read_records(args.input)}
        todo = [path for path in checkpoints(args.input) if _settings_key(_settings(args, path)) not in done]
        if not todo:
            print(f"{args.input}: every checkpoint is already scored with these settings", file=sys.stderr)
        for path in todo:
            _score_and_print(args, str(path))
        return EXIT_OK
    _score_and_print(args, args.input)
    return EXIT_OK


def _score_and_print(args: argparse.Namespace, samples: str) -> None:
    options = MetricOptions(
        kid_subsets=args.kid_subsets, kid_subset_size=args.kid_subset_size, prdc_k=args.prdc_k, is_splits=args.is_splits,
        ndb_bins=args.ndb_bins,
    )
    record = score(
        samples,
        args.reference,
        args.metrics,
        extractor=args.extractor,
        extractor_options=_extractor_options(args),
        num_samples=args.num_samples,
        seed=args.seed,
        batch_size=args.batch_size,
        device=args.device,
        options=options,
        progress=False if args.quiet else None,
        data_root=args.data_root,
        download=args.download,
        use_cache=not args.no_cache,
        ema=args.ema,
        ci=None if args.ci is None else BootstrapOptions(args.ci, args.ci_replicates),
        latents=args.latents,
    )
    print(json.dumps(record) if args.json else format_record(record), flush=True)


def _settings(args: argparse.Namespace, checkpoint: Path) -> dict:
    return {"checkpoint": checkpoint.name, "reference_argument": args.reference, "seed": args.seed, "ema": args.ema,
            "requested_num_samples": args.num_samples, "metrics": args.metrics, "ci_level": args.ci,
            "latents": args.latents}


def _settings_key(record: dict) -> tuple:
    """What makes two scores of a checkpoint the same: checkpoint, reference, seed, EMA, N, metrics asked, the
    interval level and the latents."""
    keys = ("checkpoint", "reference_argument", "seed", "ema", "requested_num_samples", "metrics", "ci_level")
    return tuple(record.get(key) for key in keys) + (record.get("latents", "normal"),)


def run_ref_build(args: argparse.Namespace) -> int:
    samples = load_source(args.spec, num_samples=args.num_samples, seed=args.seed, data_root=args.data_root, download=args.download)
    extractor = create_for(resolve_extractor_name(args.extractor, samples), _extractor_options(args), args.device)
    reference = reference_from_samples(
        samples, extractor, list(METRIC_FAMILIES), batch_size=args.batch_size, progress=False if args.quiet else None
    )
    state = "already cached" if reference.from_cache else "built"
    print(f"{state}: ref:{reference.card.key}  ({reference.card.source}, {reference.card.extractor}, N={reference.card.num_samples})")
    return EXIT_OK


def run_ref_list(args: argparse.Namespace) -> int:
    cards = list_references()
    if not cards:
        print(f"no cached references in {cache_dir()}")
        return EXIT_OK
    print(f"{'key':<26}{'extractor':<22}{'N':>7}{'dim':>6}  {'created':<27}source")
    for card in cards:
        print(f"{card.key:<26}{card.extractor:<22}{card.num_samples:>7}{card.dim:>6}  {card.created:<27}{card.source}")
    return EXIT_OK


def run_ref_show(args: argparse.Namespace) -> int:
    print(read_card(args.key).to_json(), end="")
    return EXIT_OK


def format_record(record: dict) -> str:
    """A readable table of one record: what was compared, then one metric per line."""
    lines = [
        f"input      {record['input']} ({record['num_samples']} samples)",
        f"reference  {record['reference']} ("
        + (f"{record['num_reference']} samples)" if record["num_reference"] is not None else "mean and covariance only)"),
        f"extractor  {record['extractor']}   seed {record['seed']}",
        "",
        f"{'metric':<13}{'value':>14}" + (f"  {record['ci_level']:.0%} interval" if record.get("ci_level") else ""),
    ]
    for family in METRIC_FAMILIES.values():
        for key in family.keys:
            if key in record:
                value = record[key]
                line = f"{key:<13}{'n/a' if value is None else format(value, '.6g'):>14}"
                if record.get(f"{key}_ci_low") is not None:
                    line += f"  [{record[f'{key}_ci_low']:.6g}, {record[f'{key}_ci_high']:.6g}]"
                lines.append(line)
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
