"""The command line's own behaviour: a fast --help without torch, the peers' `score A B` shape, typos named with the
closest valid flag, no abbreviated flags, usage errors that show the subcommand's usage, and --threads."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from ganeval import arguments, cli
from ganeval.metrics.registry import (Metric, MetricKey, MetricResult, option, register_metric,
                                      unregister_metric)

from .conftest import gaussian_pair


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_help_imports_neither_torch_nor_torch_fidelity():
    # --help exits through argparse (SystemExit 0) before any command module is imported
    result = _python(
        "import sys\n"
        "from ganeval.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "for sub in ('score', 'gate', 'train', 'compare'):\n"
        "    try:\n        main([sub, '--help'])\n    except SystemExit:\n        pass\n"
        "print(sorted(name for name in ('torch', 'torch_fidelity', 'torchvision', 'scipy') if name in sys.modules))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_usage_errors_answer_without_torch():
    result = _python(
        "import sys\nfrom ganeval.cli import main\n"
        "try:\n    main(['score', 'a.npy', '--refrence', 'b.npy'])\nexcept SystemExit as exit_:\n    print(exit_.code)\n"
        "print('torch' in sys.modules)"
    )
    assert result.stdout.split() == ["2", "False"], result.stderr


def test_help_lists_the_registered_extractors_and_metric_families():
    from ganeval import features
    from ganeval.metrics.registry import METRIC_FAMILIES

    from ganeval.features.resize import RESIZE_MODES

    assert sorted(arguments.EXTRACTOR_NAMES) == sorted(features.names()) and cli.RESIZE_MODES == RESIZE_MODES
    text = cli.build_parser()._subparsers._group_actions[0].choices["score"].format_help()
    assert all(name in text for name in features.names()) and all(name in text for name in METRIC_FAMILIES)


def test_parser_choices_match_the_library():
    from ganeval.compare import FORMATS, SELECTIONS
    from ganeval.config import LATENT_KINDS

    score = cli._subcommand_parser(cli.build_parser(), ["score"])
    [latents] = [action for action in score._actions if "--latents" in action.option_strings]
    assert cli.COMPARE_FORMATS == FORMATS and cli.COMPARE_SELECTIONS == SELECTIONS
    assert tuple(latents.choices) == LATENT_KINDS


@pytest.fixture
def feature_files(tmp_path, rng):
    real, fake = gaussian_pair(rng, 200, 6)
    np.save(tmp_path / "real.npy", real.astype(np.float32))
    np.save(tmp_path / "fake.npy", fake.astype(np.float32))
    return tmp_path / "real.npy", tmp_path / "fake.npy"


def test_score_takes_the_reference_as_second_argument(run_cli, feature_files):
    real, fake = feature_files
    flags = ("--metrics", "fid,kid", "--kid-subsets", "5", "--json", "--quiet")
    code, positional, err = run_cli("score", fake, real, *flags)
    assert code == 0, err
    code, named, err = run_cli("score", fake, "--reference", real, *flags)
    assert code == 0, err
    first, second = json.loads(positional), json.loads(named)
    assert first["fid"] == second["fid"] and first["kid_mean"] == second["kid_mean"]
    assert first["reference"] == second["reference"] == str(real)


def test_score_with_two_references_or_none_is_refused(run_cli, feature_files):
    real, fake = feature_files
    code, _, err = run_cli("score", fake, real, "--reference", real, "--quiet")
    assert code == 2 and "two references" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli("score", fake, "--quiet")
    assert code == 2 and "needs a reference" in err and "ganeval score INPUT REFERENCE" in err


def test_a_typo_is_named_with_the_closest_flag(run_cli, feature_files):
    real, fake = feature_files
    code, _, err = run_cli("score", fake, "--refrence", real)
    lines = err.strip().splitlines()
    assert code == 2
    assert lines[0] == "ganeval score: error: unrecognized option --refrence; did you mean --reference?"
    assert lines[1].startswith("usage: ganeval score INPUT [REFERENCE] [options]")
    # the typo wins over a missing required option of the same subcommand
    code, _, err = run_cli("report", "runs/x", "--otu", "reports/x")
    assert code == 2 and "unrecognized option --otu; did you mean --out?" in err


def test_abbreviated_flags_are_not_accepted(run_cli, feature_files):
    real, fake = feature_files
    code, _, err = run_cli("score", fake, "--ref", real, "--quiet")
    assert code == 2 and "unrecognized option --ref" in err and "--reference" in err


def test_usage_errors_show_the_subcommand_usage(run_cli):
    code, _, err = run_cli("gate", "--max", "fid=3")
    assert code == 2
    assert "usage: ganeval gate TARGET... [options]  (ganeval gate --help lists them)" in err
    code, _, err = run_cli("ref", "show")
    assert code == 2 and "usage: ganeval ref show KEY [options]" in err
    code, _, err = run_cli("scor", "x")
    assert code == 2 and "usage: ganeval {score," in err


@pytest.mark.parametrize("command", [["score", "a", "b"], ["train", "x"], ["compare", "x"], ["gate", "x"],
                                     ["report", "x", "--out", "y"], ["demo"], ["ref", "list"], ["sample", "x.pt",
                                     "--num-samples", "2", "--out", "y"], ["train-classifier", "--out", "y"]])
def test_every_command_takes_threads(command):
    args = cli.build_parser().parse_args([*command, "--threads", "3"])
    assert args.threads == 3


def test_threads_apply_during_the_command_and_are_restored(run_cli, feature_files, monkeypatch):
    import torch

    from ganeval import commands

    seen = []
    monkeypatch.setattr(commands, "run_ref_list", lambda args: seen.append(torch.get_num_threads()) or 0)
    before = torch.get_num_threads()
    code, _, err = run_cli("ref", "list", "--threads", "1")
    assert code == 0, err
    assert seen == [1] and torch.get_num_threads() == before
    code, _, err = run_cli("ref", "list", "--threads", "0")
    assert code == 2 and "--threads 0" in err


def test_one_thread_per_process_under_torchrun(monkeypatch):
    from ganeval.threads import default_threads

    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert default_threads() is None
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert default_threads() == 1


def test_train_classifier_needs_an_out_folder(run_cli):
    code, _, err = run_cli("train-classifier", "--epochs", "1")
    assert code == 2 and "--out" in err


def _score_parser(parser: cli._Parser) -> cli._Parser:
    return parser._subparsers._group_actions[0].choices["score"]


def test_score_config_is_the_inverse_of_the_score_flags():
    from ganeval.config import BootstrapOptions, DataConfig, ExtractorConfig, ScoreConfig
    from ganeval.metrics.registry import METRIC_FAMILIES

    args = cli.build_parser().parse_args([
        "score", "fake.npy", "real.npy", "--metrics", "kid,fid,kid", "--kid-subsets", "5", "--kid-subset-size", "50",
        "--prdc-k", "3", "--is-splits", "4", "--ndb-bins", "20", "--ndb-alpha", "0.01", "--num-samples", "100",
        "--reference-samples", "200", "--seed", "7", "--batch-size", "16", "--device", "cpu", "--ci", "0.9",
        "--ci-replicates", "50", "--ema", "--latents", "sobol", "--data-root", "data", "--download",
        "--max-image-pixels", "1000", "--no-cache", "--quiet", "--inception-weights", "w.pt", "--json",
    ])
    defaults = {name: family.options() for name, family in METRIC_FAMILIES.items()}
    options = {**defaults, "kid": METRIC_FAMILIES["kid"].options(subsets=5, subset_size=50),
               "prdc": METRIC_FAMILIES["prdc"].options(k=3), "is": METRIC_FAMILIES["is"].options(splits=4),
               "ndb": METRIC_FAMILIES["ndb"].options(bins=20, alpha=0.01)}
    assert arguments.score_config(args) == ScoreConfig(
        metrics=("kid", "fid"), metric_options=options,
        extractor=ExtractorConfig("auto", {"inception-v3-compat": {"weights": "w.pt"}}), num_samples=100,
        reference_samples=200, seed=7, batch_size=16, device="cpu", ci=BootstrapOptions(0.9, 50), ema=True,
        latents="sobol", data=DataConfig(data_root="data", download=True, max_image_pixels=1000), use_cache=False,
        progress=False,
    )


def test_the_flag_defaults_are_the_config_defaults():
    from ganeval.config import ScoreConfig
    from ganeval.metrics.registry import METRIC_FAMILIES

    defaults = {name: family.options() for name, family in METRIC_FAMILIES.items()}
    config = arguments.score_config(cli.build_parser().parse_args(["score", "a", "b"]))
    assert config == ScoreConfig(metric_options=defaults)
    # ref build and ref export lack score's own flags: those fields keep ScoreConfig's defaults
    for command in (["ref", "build", "spec"], ["ref", "export", "spec", "--out", "s.npz"]):
        config = arguments.score_config(cli.build_parser().parse_args([*command, "--seed", "3", "--quiet"]))
        assert config.seed == 3 and config.reference_samples is None and config.metrics is None and not config.ema


def test_score_config_refuses_trust_without_a_torchscript_extractor():
    from ganeval.errors import InputError

    args = cli.build_parser().parse_args(["score", "a", "b", "--extractor", "identity", "--trust-extractor"])
    with pytest.raises(InputError, match="--trust-extractor trusts the file named by --extractor torchscript:PATH"):
        arguments.score_config(args)
    args = cli.build_parser().parse_args(["score", "a", "b", "--extractor", "torchscript:m.pt", "--trust-extractor"])
    assert arguments.score_config(args).extractor.options == {"torchscript:m.pt": {"trust": True}}


def test_every_family_option_has_a_flag():
    from ganeval.metrics.registry import METRIC_FAMILIES

    actions = {action.dest: action for action in _score_parser(cli.build_parser())._actions}
    for name, family in METRIC_FAMILIES.items():
        for item in dataclasses.fields(family.options):
            action = actions[f"{name}_{item.name}"]
            assert action.option_strings == [f"--{name}-{item.name}".replace("_", "-")]
            assert action.default == item.default and action.help == item.metadata["help"]


@dataclasses.dataclass(frozen=True)
class ToyOptions:
    width: int = option(3, "toy width")


@pytest.fixture
def toy_family():
    register_metric(Metric("toy", (MetricKey("toy", higher_is_better=False),),
                           compute=lambda context, weights=None: MetricResult({"toy": 0.0}), options=ToyOptions))
    yield
    unregister_metric("toy")


def test_a_family_registered_later_gets_its_flags(toy_family):
    parser = cli.build_parser()  # built now, from the registry as it is now
    score_parser = _score_parser(parser)
    assert "--toy-width" in score_parser.option_names() and "toy" in score_parser.format_help()
    assert parser.parse_args(["score", "a", "b"]).toy_width == 3
    args = parser.parse_args(["score", "a", "b", "--metrics", "toy", "--toy-width", "7"])
    config = arguments.score_config(args)
    assert config.metrics == ("toy",) and config.metric_options["toy"] == ToyOptions(width=7)
