"""The command line's own behaviour: a fast --help without torch, the peers' `score A B` shape, typos named with the
closest valid flag, no abbreviated flags, usage errors that show the subcommand's usage, and --threads."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from ganeval import cli

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

    assert sorted(cli.EXTRACTOR_NAMES) == sorted(features.names())
    text = cli.build_parser()._subparsers._group_actions[0].choices["score"].format_help()
    assert all(name in text for name in features.names()) and all(name in text for name in METRIC_FAMILIES)


def test_parser_choices_match_the_library():
    from ganeval.compare import FORMATS, SELECTIONS
    from ganeval.train.loop import LATENT_KINDS

    assert cli.COMPARE_FORMATS == FORMATS and cli.COMPARE_SELECTIONS == SELECTIONS and cli.LATENT_KINDS == LATENT_KINDS


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
