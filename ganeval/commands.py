"""What each `ganeval` command does once its arguments are parsed: call the library, print, return the exit code.

cli.py parses (and imports nothing heavy, so `ganeval --help` is instant); this module imports torch and the rest.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import demo
from .atomic import write_text_atomically
from .compare import compare, render
from .data import load_source
from .data.files import save_samples
from .device import resolve_device
from .errors import GanevalError
from .evaluate import MetricOptions, create_for, resolve_extractor_name, score
from .features.cache import cache_dir, list_references, read_card
from .gate import Limits, check_alpha, evaluate_limits, parse_limits, publish, read_limits, verdict_table
from .metrics.bootstrap import BootstrapOptions
from .metrics.registry import METRIC_FAMILIES
from .reference import reference_from_samples
from .report import write_report
from .runs import METRICS_FILE, checkpoints, is_run_dir, read_records
from .train.classifier import ClassifierTraining, save_classifier, train_classifier
from .train.config import load_config
from .train.loop import checkpoint_samples, train
from .train.scoring import CheckpointScorer

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2


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


def run_sample(args: argparse.Namespace) -> int:
    samples, info = checkpoint_samples(args.checkpoint, args.num_samples, args.seed, ema=args.ema, device=resolve_device(args.device))
    out = save_samples(samples, args.out)
    print(f"{len(samples)} samples of {info['run']} step {info['step']} -> {out}")
    return EXIT_OK


def run_compare(args: argparse.Namespace) -> int:
    text = render(compare(args.runs, args.metrics, args.select), args.format)
    if args.out:
        write_text_atomically(args.out, text)
        print(f"comparison written to {args.out}", file=sys.stderr)
    else:
        print(text, end="")
    return EXIT_OK


def run_report(args: argparse.Namespace) -> int:
    index = write_report(args.runs, args.out, args.title)
    print(f"report: {index} (and {args.out / 'README.md'})")
    return EXIT_OK


def run_gate(args: argparse.Namespace) -> int:
    limits = read_limits(args.config)
    limits.update(Limits(parse_limits("max", args.max), parse_limits("min", args.min),
                         parse_limits("max_regression", args.max_regression), args.baseline,
                         None if args.alpha is None else check_alpha(args.alpha)))
    checks, description = evaluate_limits(limits, args.targets[0], args.select, args.reference)
    print(verdict_table(checks, description))
    publish(checks, description, args.junit)
    return EXIT_OK if all(check.passed for check in checks) else EXIT_CHECK_FAILED


def run_demo(args: argparse.Namespace) -> int:
    return demo.run(args.runs, args.out, device=resolve_device(args.device), progress=False if args.quiet else None)


def _extractor_options(args: argparse.Namespace) -> dict[str, dict]:
    """Options by extractor name; score() refuses them when another extractor is chosen."""
    return {"inception-v3-compat": {"weights": args.inception_weights}} if args.inception_weights else {}


def run_train_classifier(args: argparse.Namespace) -> int:
    if args.epochs is not None and args.epochs < 1:
        raise GanevalError(f"--epochs must be at least 1, got {args.epochs}")
    defaults = ClassifierTraining()
    settings = ClassifierTraining(epochs=defaults.epochs if args.epochs is None else args.epochs,
                                  seed=defaults.seed if args.seed is None else args.seed)
    model, summary = train_classifier(
        settings, device=resolve_device(args.device), data_root=args.data_root, progress=False if args.quiet else None
    )
    weights = save_classifier(model, summary, args.out)
    print(f"test accuracy {summary['test_accuracy']:.4f} after {summary['train_seconds']:.0f} s; weights: {weights}")
    return EXIT_OK


def run_score(args: argparse.Namespace) -> int:
    """Score INPUT; a run directory scores each checkpoint not yet scored with these settings (one reference pass)."""
    args.reference = _reference_argument(args)
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


def _reference_argument(args: argparse.Namespace) -> str:
    """REFERENCE as the second positional (`ganeval score A B`, as pytorch_fid A B) or --reference, not both."""
    if args.reference_positional and args.reference:
        raise GanevalError(f"two references: {args.reference_positional} and --reference {args.reference}; give one")
    reference = args.reference or args.reference_positional
    if not reference:
        raise GanevalError("score needs a reference: ganeval score INPUT REFERENCE (or --reference REF)")
    return reference


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
