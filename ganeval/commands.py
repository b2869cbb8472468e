"""What each `ganeval` command does once its arguments are parsed: call the library, print, return the exit code.

cli.py parses (and imports nothing heavy, so `ganeval --help` is instant); this module imports torch and the rest.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
from pathlib import Path

import torch

from . import demo
from .arguments import generator_arguments, generator_options, score_config
from .atomic import check_output_file, check_output_folder, write_text_atomically
from .formatting import format_interval, format_number
from .compare import compare, render
from .data import load_source
from .data.files import save_samples
from .device import resolve_device
from .config import BootstrapOptions, DataConfig, GeneratorOptions, flag_fields
from .distributed import init_world, world
from .errors import EXIT_CHECK_FAILED, EXIT_OK, GanevalError
from .data.checkpoint import CheckpointSource, generation_config, is_checkpoint, load_checkpoint
from .data.generator import GeneratorSource, LabelSpec, LatentSpec
from .data.generator_files import PYTHON_PREFIX, checkpoint_files, is_generator_spec, load_generator
from .pipeline import create_for, resolve_extractor_name, score_all, tune
from .features.cache import cache_dir, list_references, read_card
from .diagnose import Diagnosis, diagnose_run, diagnosis_text, expand_runs, parse_kinds
from .gate import Limits, check_alpha, gate_targets, parse_limits, read_limits
from .human import StudyRequest, make_study, score_study, summary_text, write_results
from .metrics.registry import METRIC_FAMILIES
from .reference import (
    CachedReference,
    ReferenceStats,
    ReferenceStore,
    SamplesReference,
    cached_reference_spec,
    check_stats_path,
    export_moments,
    save_moments,
)
from .report import write_report
from .records import Record, ScoreSettings
from .runs import Checkpoint, RunDir
from .sweep import score_run
from .trackers import FollowingHook, RunFollower, Trackers, parse_sinks, replay
from .train.classifier import ClassifierTraining, save_classifier, train_classifier
from .train.config import load_config
from .train.loop import TrainingInterrupted, checkpoint_config, train
from .train.scoring import CheckpointScorer
from .verdicts import check_outputs as check_verdict_outputs, publish, verdicts_text



def run_train(args: argparse.Namespace) -> int:
    overrides = list(args.set) + ([f"steps={args.steps}"] if args.steps is not None else [])
    config = load_config(args.config, overrides)
    trackers = Trackers(args.log)  # bad --log values fail here, before any training
    run = RunDir(args.out or Path("runs") / config.name)
    device = resolve_device(args.device)
    processes = init_world(args.device)  # torchrun: the image GANs train with each batch split among the processes
    scorer = None if args.no_eval else CheckpointScorer(config, device, args.data_root)
    # the trackers get what the run's files gained after each checkpoint (scores, signals), not the loop's steps
    follower = RunFollower(trackers, run) if trackers and processes.is_main else None
    hook = FollowingHook(scorer, follower) if follower else scorer
    changing = {override.partition("=")[0] for override in overrides}  # --resume may change only what was asked
    try:
        trainer = train(config, run.path, device=device, resume=changing if args.resume else False, overwrite=args.overwrite,
                        data_root=args.data_root, progress=False if args.quiet else None, on_checkpoint=hook)
    except TrainingInterrupted as interrupt:
        print(f"{config.name}: {interrupt.trainer.steps_reached()}; checkpoints in {run.checkpoints_folder}; "
              f"--resume continues it", file=sys.stderr)
        return interrupt.exit_code  # 130 after Ctrl-C, 143 after SIGTERM, as the shell reports them
    finally:
        if follower is not None:  # the lines after the last checkpoint (an interrupted run's) go too
            follower.forward()
        trackers.close()
    scored = f"; scores in {run.metrics_file}" if scorer and run.metrics_file.is_file() else ""
    if processes.is_main:
        print(f"{config.name}: {trainer.steps_reached()}; checkpoints in {run.checkpoints_folder}{scored}")
    return EXIT_OK


def run_sample(args: argparse.Namespace) -> int:
    _one_process("sample")
    if args.out.suffix:
        check_output_file(args.out, "--out")
    else:
        check_output_folder(args.out, "--out")
    source = CheckpointSource(args.checkpoint, ema=args.ema, device=resolve_device(args.device),
                              check_config=checkpoint_config, label_class=args.label_class)
    samples = source.samples(args.num_samples, args.seed)
    out = save_samples(samples.data, args.out, labels=source.labels(len(samples), args.seed))
    of_class = f" of class {args.label_class}" if args.label_class is not None else ""
    print(f"{len(samples)} samples{of_class} of {source.info.run} step {source.info.step} -> {out}")
    return EXIT_OK


def run_compare(args: argparse.Namespace) -> int:
    _one_process("compare")
    if args.out:
        check_output_file(args.out)
    text = render(compare(args.runs, args.metrics, args.select), args.format)
    if args.out:
        write_text_atomically(args.out, text)
        print(f"comparison written to {args.out}", file=sys.stderr)
    else:
        print(text, end="")
    return EXIT_OK


def run_report(args: argparse.Namespace) -> int:
    _one_process("report")
    index = write_report(args.runs, args.out, args.title)
    print(f"report: {index} (and {args.out / 'README.md'})")
    return EXIT_OK


def run_diagnose(args: argparse.Namespace) -> int:
    _one_process("diagnose")
    fail_on = parse_kinds(args.fail_on)
    failed = False
    for run in expand_runs(args.runs):
        diagnosis = diagnose_run(run)
        if args.duality_gap:
            diagnosis = with_duality_gaps(diagnosis, run, resolve_device(args.device), args.data_root)
        print(json.dumps(diagnosis.to_json(), allow_nan=False) if args.json else diagnosis_text(diagnosis), flush=True)
        failed = failed or bool(diagnosis.kinds() & fail_on)
    return EXIT_CHECK_FAILED if failed else EXIT_OK


def with_duality_gaps(diagnosis: Diagnosis, run: Path, device: torch.device, data_root: str | None) -> Diagnosis:
    """`diagnosis` with the duality gap of each of the run's checkpoints (ganeval checkpoints only); a run without
    checkpoints (a user's own loop) says so in not_judged instead."""
    from .train.duality_gap import duality_gaps

    if not RunDir(run).checkpoints(allow_none=True):
        return dataclasses.replace(diagnosis, not_judged={**diagnosis.not_judged,
                                                          "duality_gap": "no ganeval checkpoints in the run"})
    gaps = duality_gaps(run, device=device, data_root=data_root)
    return dataclasses.replace(diagnosis, duality_gaps=tuple(gap.to_dict() for gap in gaps))


def run_gate(args: argparse.Namespace) -> int:
    _one_process("gate")
    limits = read_limits(args.config)
    limits.update(Limits(parse_limits("max", args.max), parse_limits("min", args.min),
                         parse_limits("max_regression", args.max_regression), args.baseline,
                         None if args.alpha is None else check_alpha(args.alpha)))
    check_verdict_outputs(args.junit)
    verdicts = gate_targets(args.targets, limits, args.select, args.select_by, args.reference, args.setting)
    print(verdicts_text(verdicts))
    publish(verdicts, args.junit)
    return EXIT_OK if all(verdict.passed for verdict in verdicts) else EXIT_CHECK_FAILED


def run_neighbours(args: argparse.Namespace) -> int:
    """`neighbours INPUT --train REF --out DIR`: the grid of the most copy-like samples and its listing."""
    from .neighbours import write_neighbours

    _one_process("neighbours")
    source = str(RunDir(args.input).checkpoints()[-1].path) if RunDir.is_run(args.input) else args.input
    train = args.train or training_data(source)
    if train is None:
        raise GanevalError(f"neighbours: say what {args.input} was trained on: --train REF (e.g. fashion-mnist:train)")
    check_output_folder(args.out)
    written = write_neighbours(source, train, args.out, score_config(args), args.count)
    record = written.record
    print(f"copies {format_number(record.values['copies'])} (pixel space "
          f"{format_number(record.values['copies_pixel'])}) of {record.num_samples} samples against {train}: "
          f"{written.figure}, {written.listing}")
    return EXIT_OK


def run_human_make(args: argparse.Namespace) -> int:
    """`human make SOURCE --reference REF --out STUDY`: the study folder; says what to send to the raters."""
    _one_process("human make")
    request = StudyRequest(args.source, args.reference, args.num_images, args.seed, args.checks, args.ema)
    data = DataConfig(**{name: getattr(args, name) for name in ("data_root", "download", "max_image_pixels", "workers")})
    key = make_study(request, args.out, data, resolve_device(args.device))
    print(f"study {key.study_id}: {len(key.ids('fake'))} generated + {len(key.ids('real'))} real images and "
          f"{len(key.ids('check'))} attention checks in {args.out}; send {args.out / 'index.html'} (only) to the "
          f"raters, keep {args.out / 'key.json'} to yourself")
    return EXIT_OK


def run_human_score(args: argparse.Namespace) -> int:
    """`human score STUDY ANSWERS...`: the HYPE rates; writes STUDY/images.csv and appends the record."""
    _one_process("human score")
    if args.append is not None:
        check_output_folder(args.append, "--append")
    if args.out is not None:
        check_output_file(args.out, "--out")
    trackers = Trackers(args.log)  # bad --log values fail here, before the answers are read
    ci = None if args.ci is None else BootstrapOptions(args.ci, args.ci_replicates)
    score = score_study(args.study, args.answers, ci, args.seed, args.max_check_failures)
    record = score.record().to_json()
    images, records = write_results(score, record, args.study, args.append)
    with contextlib.closing(trackers):
        trackers.log_record(Record.from_json(record), RunDir(records.parent))
    print(json.dumps(record) if args.json else summary_text(score), flush=True)
    if args.out is not None:
        write_text_atomically(args.out, json.dumps(record, indent=2) + "\n")
        print(f"record written to {args.out}", file=sys.stderr)
    print(f"soft labels written to {images}; record appended to {records}", file=sys.stderr)
    return EXIT_OK


def run_log(args: argparse.Namespace) -> int:
    """`log RUN... --to SINK...`: each run's files into each tracker, skipping what the tracker holds."""
    _one_process("log")
    sinks = parse_sinks(args.to, "--to")  # every --to checked before the first run is sent
    for run in args.runs:
        if not RunDir.is_run(run) and not (run / "metrics.jsonl").is_file():
            raise GanevalError(f"{run}: not a run directory (no config.toml, checkpoints/ or metrics.jsonl)")
    for run in args.runs:
        for sink in sinks:
            print(replay(run, sink).summary(), flush=True)
    return EXIT_OK


def run_demo(args: argparse.Namespace) -> int:
    _one_process("demo")
    return demo.run(args.runs, args.out, device=resolve_device(args.device), progress=False if args.quiet else None)


def run_train_classifier(args: argparse.Namespace) -> int:
    _one_process("train-classifier")
    if args.epochs is not None and args.epochs < 1:
        raise GanevalError(f"--epochs must be at least 1, got {args.epochs}")
    check_output_folder(args.out, "--out")  # before an epoch of training, not after it
    defaults = ClassifierTraining()
    settings = ClassifierTraining(epochs=defaults.epochs if args.epochs is None else args.epochs,
                                  seed=defaults.seed if args.seed is None else args.seed)
    model, summary = train_classifier(
        settings, device=resolve_device(args.device), data_root=args.data_root, progress=False if args.quiet else None
    )
    weights = save_classifier(model, summary, args.out)
    print(f"test accuracy {summary['test_accuracy']:.4f} after {summary['train_seconds']:.0f} s; weights: {weights}")
    return EXIT_OK


def _one_process(command: str) -> None:
    """Commands that are not sharded yet refuse torchrun's K processes, which would each do (and write) it all."""
    launched = world()
    if launched.launched:
        raise GanevalError(f"ganeval {command} runs in one process (this is rank {launched.rank} of {launched.size}); "
                           f"launch it without torchrun (score and ref build are sharded)")


def run_score(args: argparse.Namespace) -> int:
    """Score INPUT; a run directory scores each checkpoint not yet scored with these settings (one reference pass).
    `--out FILE` also writes the record as JSON, `--append RUN` appends it to RUN/metrics.jsonl."""
    args.reference = _reference_argument(args)
    config = score_config(args)  # bad flags fail here, before any scoring
    with contextlib.closing(Trackers(args.log)) as trackers:  # bad --log values too
        return _score(args, config, trackers)


def _score(args: argparse.Namespace, config, trackers: Trackers) -> int:
    if world().is_main:  # the rank that writes them (probing them from every rank is noise)
        _check_outputs(args)
    processes = init_world(config.device, args.dist_timeout)  # torchrun: ranks score their shards, rank 0 writes
    store = ReferenceStore(enabled=config.use_cache)
    _refuse_generator_flags(args)
    if RunDir.is_run(args.input):
        for flag, value in (("--out", args.out), ("--save-stats", args.save_stats)):
            if value is not None:
                raise GanevalError(f"{flag} writes one score; {args.input} is a run directory with a score per checkpoint")
        def shown(path: Path, record: Record) -> None:
            if processes.is_main:
                _print_and_write(args, str(path), record)

        if not score_run(args.input, args.reference, config, shown, store, trackers) and processes.is_main:
            print(f"{args.input}: every checkpoint is already scored with these settings", file=sys.stderr)
        return EXIT_OK
    if generator_options(args).checkpoints is not None:
        return _score_generator_files(args, config, store, processes, trackers)
    if args.save_stats is not None and len(config.extractor.names) > 1:
        raise GanevalError(f"--save-stats writes one feature space's moments; --extractor {config.extractor.name} "
                           f"names {len(config.extractor.names)}")
    scores = score_all(_score_input(args, config), args.reference, config, store)
    if processes.is_main:
        if args.save_stats is not None:
            save_moments(args.save_stats, scores[0].features.embedding)
        records = [scored.record for scored in scores]
        for record in records:
            print(json.dumps(record.to_json()) if args.json else format_record(record.to_json()), flush=True)
        _write_outputs(args, args.input, [record.to_json() for record in records])
        for record in records if trackers else ():  # after metrics.jsonl (--append, a checkpoint's run)
            trackers.log_record(record, _run_of_score(args))
    return EXIT_OK


def _run_of_score(args: argparse.Namespace) -> RunDir | None:
    """The run a score of one input belongs to: --append's, else a checkpoint's own, else none."""
    if args.append is not None:
        return RunDir(args.append)
    return Checkpoint(args.input).run if is_checkpoint(args.input) else None


def _score_input(args: argparse.Namespace, config) -> str | GeneratorSource:
    """INPUT as given, or the GeneratorSource it names (python:MODULE:FUNCTION, .onnx, TorchScript, .pt2) sampled
    as the generator flags say."""
    if not is_generator_spec(args.input):
        return args.input
    options, arguments = generator_options(args), generator_arguments(args)
    if "{}" in arguments.values():
        raise GanevalError("--generator-arg KEY={}: {} stands for each file of --checkpoints GLOB|FOLDER; give that "
                           "too, or name one file")
    return _generator_source(args.input, arguments, options, config)


def _refuse_generator_flags(args: argparse.Namespace) -> None:
    """The generator flags are for generator inputs only: never ignored for a folder, a data set or a run."""
    if is_generator_spec(args.input):
        return
    options, defaults = generator_options(args), GeneratorOptions()
    given = [field.metadata["flag"] for field in flag_fields(GeneratorOptions)
             if getattr(options, field.name) != getattr(defaults, field.name)]
    given += ["--generator-arg"] if generator_arguments(args) else []
    if given:
        raise GanevalError(f"{', '.join(given)}: for a generator of your own (python:MODULE:FUNCTION, .onnx, "
                           f"TorchScript, .pt2); {args.input} is not one")


def _generator_source(spec: str, arguments: dict[str, str], options: GeneratorOptions, config) -> GeneratorSource:
    if options.latent_dim is None:
        raise GanevalError(f"{spec}: say the size of the generator's latent vector: --latent-dim D")
    if options.label_arg is not None and not spec.startswith(PYTHON_PREFIX):
        raise GanevalError(f"--label-arg: {spec} takes the labels as its second input; --label-arg names a keyword "
                           f"of a python: generator")
    latents = LatentSpec(options.latent_dim, options.latent_kind)  # checked before the generator is loaded
    labels = LabelSpec.of(options.labels, options.num_classes, options.label_arg)
    device = resolve_device(config.device)
    loaded = load_generator(spec, arguments=arguments, trust=options.trust_generator, device=device)
    if isinstance(loaded.generator, torch.nn.Module):
        loaded.generator.to(device)  # ours to place: --device says where a generator of the command line runs
    return GeneratorSource(loaded.generator, latents, labels, output_range=options.output_range, device=device,
                           name=loaded.name, sha256=loaded.sha256)


def _score_generator_files(args: argparse.Namespace, config, store: ReferenceStore, processes,
                           trackers: Trackers) -> int:
    """`--checkpoints GLOB`: the python: factory once per file, in step order, each file given as the
    --generator-arg whose value is {}; every record goes to --append RUN with the file's step and name, and what
    RUN holds a record of, asked alike (the generator's spec, arguments and options too), is skipped."""
    options, arguments = generator_options(args), generator_arguments(args)
    if not args.input.startswith(PYTHON_PREFIX) or "{}" not in arguments.values():
        raise GanevalError("--checkpoints: give a python: factory and the --generator-arg that takes each file as {} "
                           "(e.g. --generator-arg checkpoint={})")
    if args.append is None or args.out is not None or args.save_stats is not None:
        raise GanevalError("--checkpoints scores one record per file into a run folder: give --append RUN (and "
                           "neither --out nor --save-stats)")
    run, asked = RunDir(args.append), _generator_settings(args, config, options, arguments)
    done = {record.sweep_key() for record in run.records(skip_invalid=True)}
    scored = 0
    for step, path in checkpoint_files(options.checkpoints):
        lacking = [name for name, settings in asked.items() if settings.key(path.name) not in done]
        if not lacking:
            continue
        per_file = {key: str(path) if value == "{}" else value for key, value in arguments.items()}
        source = _generator_source(args.input, per_file, options, config)
        for name, each in zip(lacking, score_all(source, args.reference, config.for_extractor(",".join(lacking)),
                                                 store)):
            record = each.record.labelled(run.name, step, path.name, asked[name])
            if processes.is_main:
                run.append(record)
                trackers.log_record(record, run)
                print(json.dumps(record.to_json()) if args.json else format_record(record.to_json()), flush=True)
        scored += 1
    if not scored and processes.is_main:
        print(f"{options.checkpoints}: every file is already scored with these settings in {run.path}",
              file=sys.stderr)
    return EXIT_OK


def _generator_settings(args: argparse.Namespace, config, options: GeneratorOptions,
                        arguments: dict[str, str]) -> dict[str, ScoreSettings]:
    """What each extractor's score of one of the files asks: the score's settings, and the generator as asked (the
    factory, its arguments but the file, and how it is sampled)."""
    fixed = ", ".join(f"{key}={value}" for key, value in arguments.items() if value != "{}")
    generator = (f"{args.input}({fixed}) latents {options.latent_kind} {options.latent_dim}, labels "
                 f"{options.labels or 'none'}{f' of {options.num_classes}' if options.num_classes else ''}"
                 f"{f' as {options.label_arg}' if options.label_arg else ''}, output {options.output_range}")
    return {name: dataclasses.replace(ScoreSettings.asked(args.reference, config.for_extractor(name)),
                                      generator=generator) for name in config.extractor.names}


def _reference_argument(args: argparse.Namespace) -> str:
    """REFERENCE as the second positional (`ganeval score A B`, as pytorch_fid A B) or --reference, not both."""
    if args.reference_positional and args.reference:
        raise GanevalError(f"two references: {args.reference_positional} and --reference {args.reference}; give one")
    reference = args.reference or args.reference_positional or held_out_reference(args.input)
    if not reference:
        raise GanevalError("score needs a reference: ganeval score INPUT REFERENCE (or --reference REF)")
    return reference


def held_out_reference(source: str) -> str | None:
    """The reference a ganeval run or checkpoint defaults to: the test split of the data it trained on
    (fashion-mnist:train -> fashion-mnist:test), so that the memorization metrics' --train (the run's data) and
    the held-out reference are never the same set. None for other inputs, or data without a train split."""
    data = training_data(source)
    if data is None or not data.endswith(":train"):
        return None
    return data[: -len(":train")] + ":test"


def training_data(source: str) -> str | None:
    """The data a ganeval run or checkpoint trained on (its config's `data`), or None for other inputs."""
    data = None
    if RunDir.is_run(source):
        data = (RunDir(source).saved_config() or {}).get("data")
    elif is_checkpoint(source) and Path(source).is_file():
        data = generation_config(load_checkpoint(source), source).data
    return data if isinstance(data, str) else None


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse unusable output paths before scoring, not after a minute of it."""
    if args.append is not None:
        check_output_folder(args.append, "--append")  # the run folder that holds (or will hold) metrics.jsonl
    if args.out is not None:
        check_output_file(args.out, "--out")
    if args.save_stats is not None:
        check_stats_path(args.save_stats)
        check_output_file(args.save_stats, "--save-stats")


def _write_outputs(args: argparse.Namespace, samples: str, records: list[dict]) -> None:
    """--out FILE: the record as JSON (atomically; a list of them for several extractors); --append RUN: a line of
    RUN/metrics.jsonl each."""
    if args.out is not None:
        write_text_atomically(args.out, json.dumps(records[0] if len(records) == 1 else records, indent=2) + "\n")
        print(f"{'record' if len(records) == 1 else f'{len(records)} records'} written to {args.out}", file=sys.stderr)
    if args.append is not None:
        checkpoint_run = Checkpoint(samples).run if samples.endswith(".pt") else None
        if checkpoint_run is not None and checkpoint_run.path.resolve() == args.append.resolve():
            return  # score() already appended a checkpoint's record to its own run
        for record in records:
            print(f"record appended to {RunDir(args.append).append(record)}", file=sys.stderr)


def _print_and_write(args: argparse.Namespace, samples: str, record: Record) -> None:
    data = record.to_json()
    print(json.dumps(data) if args.json else format_record(data), flush=True)
    _write_outputs(args, samples, [data])


def run_ref_build(args: argparse.Namespace) -> int:
    if world().is_main:  # building is all this command does: check where it goes first
        check_output_folder(cache_dir(), "the reference cache ($GANEVAL_CACHE)")
    processes = init_world(args.device, args.dist_timeout)  # torchrun: ranks extract shards, rank 0 writes
    reference = _built_reference(args)
    if not processes.is_main:
        return EXIT_OK
    state = "already cached" if reference.from_cache else "built"
    print(f"{state}: ref:{reference.card.key}  ({reference.card.source}, {reference.card.extractor}, N={reference.card.num_samples})")
    return EXIT_OK


def _built_reference(args: argparse.Namespace) -> ReferenceStats:
    """The cache entry of `args.spec` with the chosen extractor (rows kept, for every metric): read when it exists,
    else extracted and written."""
    samples = load_source(args.spec, num_samples=args.num_samples, seed=args.seed, data_root=args.data_root,
                          download=args.download, max_image_pixels=args.max_image_pixels, workers=args.workers)
    config = score_config(args)
    if len(config.extractor.names) > 1:
        raise GanevalError(f"a cache entry holds one feature space; --extractor {config.extractor.name} names "
                           f"{len(config.extractor.names)}: build one at a time")
    name = resolve_extractor_name(config.extractor.name, samples, SamplesReference(samples))
    extractor = create_for(name, config.extractor.options, config.device)
    store = ReferenceStore()
    return store.from_samples(samples, extractor, rows=True, batch_size=tune(extractor, config, samples),
                              progress=config.progress)


def run_ref_export(args: argparse.Namespace) -> int:
    """`ref export KEY|SPEC --out stats.npz`: a cached reference (built first from a SPEC) as pytorch-fid statistics,
    with its provenance card beside them."""
    _one_process("ref export")
    check_stats_path(args.out)
    check_output_file(args.out, "--out")  # before a reference is built, which may take minutes
    cached = cached_reference_spec(args.spec)
    if cached is not None and (args.extractor != "auto" or args.num_samples is not None):
        raise GanevalError(f"{args.spec} is a cached reference: its extractor and N are fixed; "
                           f"give its source spec to build another (see `ganeval ref show`)")
    reference = ReferenceStore().load(CachedReference(cached)) if cached is not None else _built_reference(args)
    stats_path, card_path = export_moments(reference, args.out)
    card = reference.card
    print(f"ref:{card.key} ({card.source}, {card.extractor}, N={card.num_samples}, d={card.dim}) -> {stats_path} "
          f"(mu, sigma) and {card_path}")
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
        for key in family.key_names:
            if key in record:
                line = f"{key:<13}{format_number(record[key]):>14}"
                if record.get(f"{key}_ci_low") is not None:
                    line += f"  {format_interval(record[f'{key}_ci_low'], record[f'{key}_ci_high'], digits=6)}"
                lines.append(line)
    note = _sample_count_note(record)
    if note:
        lines.append(note)
    fid = record.get("diagnostics", {}).get("fid")
    if fid:
        lines.append(
            f"\nfid diagnostics: d={fid['dim']} rank={fid['rank']} "
            f"negative eigenvalue mass={fid['negative_eigenvalue_mass']:.2g} factor={fid['factor_method']}"
        )
    return "\n".join(lines)


def _sample_count_note(record: dict) -> str | None:
    """Recall and coverage depend on how many samples each side has; with unequal N they compare only with scores
    at the same two N."""
    generated, reference = record.get("num_samples"), record.get("num_reference")
    if not ({"recall", "coverage"} & set(record)) or reference is None or generated == reference:
        return None
    return (f"note: coverage and recall compare {generated} generated with {reference} reference samples; they depend "
            f"on both N (equal N, e.g. --reference-samples {generated}, makes them comparable across tools)")
