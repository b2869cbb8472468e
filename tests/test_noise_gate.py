"""The noise-aware gate (`--alpha`), seeds grouped by compare, intervals in tables, and `ganeval score --ci`."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import ganeval
from ganeval.compare import render
from ganeval.gate import Limits, evaluate_limits
from ganeval.verdicts import verdict_table
from ganeval.train.config import load_config
from ganeval.train.loop import train

SCORE = dict(num_samples=400, progress=False, ci=0.95)


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory) -> Path:
    """A ring8 GAN trained 600 steps: step 0 is clearly worse than step 600."""
    out = tmp_path_factory.mktemp("noise") / "ring8-gan"
    config = load_config("ring8-gan", ["steps=600", "checkpoint_every=600", "eval_every=0", "train_size=5000"])
    train(config, out, progress=False)
    return out


def _records_file(folder: Path, name: str, record: dict) -> Path:
    path = folder / f"{name}.jsonl"
    path.write_text(json.dumps(record) + "\n")
    return path


def test_gate_against_itself_fails_rarely_and_against_a_worse_step_always(ring_run, tmp_path):
    last, first = ring_run / "checkpoints" / "step-0000600.pt", ring_run / "checkpoints" / "step-0000000.pt"
    baseline = _records_file(tmp_path, "baseline", ganeval.score(str(last), "ring8", "fid,prdc", seed=0, **SCORE))
    limits = Limits(max_regression={"fid": 0.0, "coverage": 0.0}, baseline=str(baseline), alpha=0.05)
    same_failures, worse_failures = 0, 0
    for seed in range(1, 21):
        same = _records_file(tmp_path, f"same-{seed}", ganeval.score(str(last), "ring8", "fid,prdc", seed=seed, **SCORE))
        checks, _ = evaluate_limits(limits, str(same))
        same_failures += not checks[0].passed
        worse = _records_file(tmp_path, f"worse-{seed}", ganeval.score(str(first), "ring8", "fid,prdc", seed=seed, **SCORE))
        checks, description = evaluate_limits(limits, str(worse))
        worse_failures += not checks[0].passed
        assert all(0 <= check.p_value <= 1 for check in checks)
    assert same_failures <= 2
    assert worse_failures == 20
    table = verdict_table(checks, description)
    assert "p = " in table and "[" in table  # the interval beside the value, the p-value in the condition


def test_gate_alpha_needs_intervals_and_a_regression(ring_run, tmp_path, run_cli):
    plain = _records_file(tmp_path, "plain", ganeval.score("ring8", "ring8", "fid", num_samples=300, seed=1,
                                                           progress=False, use_cache=False))
    code, _, err = run_cli("gate", str(plain), "--baseline", str(plain), "--max-regression", "fid=0", "--alpha", "0.05")
    assert code == 2 and "--ci 0.95" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli("gate", str(plain), "--max", "fid=1", "--alpha", "0.05")
    assert code == 2 and "--max-regression" in err
    code, _, err = run_cli("gate", str(plain), "--baseline", str(plain), "--max-regression", "fid=0", "--alpha", "5")
    assert code == 2 and "strictly between 0 and 1" in err


def test_score_cli_prints_and_records_intervals(ring_run, run_cli):
    code, out, _ = run_cli("score", str(ring_run / "checkpoints" / "step-0000600.pt"), "--reference", "ring8",
                           "--metrics", "fid,modes", "--num-samples", "300", "--ci", "0.9", "--ci-replicates", "50",
                           "--latents", "sobol", "--quiet", "--json")
    assert code == 0
    record = json.loads(out)
    assert record["ci_level"] == 0.9 and record["latents"] == "sobol" and record["diagnostics"]["ci"]["replicates"] == 50
    assert record["fid_ci_low"] <= record["fid_ci_high"] and record["modes_ci_low"] <= record["modes_ci_high"]
    code, out, _ = run_cli("score", str(ring_run / "checkpoints" / "step-0000600.pt"), "--reference", "ring8",
                           "--metrics", "fid", "--num-samples", "300", "--ci", "0.9", "--ci-replicates", "50", "--quiet")
    assert code == 0 and "90% interval" in out and "fid" in out
    code, _, err = run_cli("score", "ring8", "--reference", "ring8", "--ci", "95", "--quiet")
    assert code == 2 and "strictly between 0 and 1" in err
    code, _, err = run_cli("score", "ring8", "--reference", "ring8", "--latents", "sobol", "--quiet")
    assert code == 2 and "applies to checkpoints" in err


def test_sobol_latents_are_seeded_normal_and_distinct():
    from ganeval.data.checkpoint import latent_codes

    codes = latent_codes(4096, 8, seed=3, kind="sobol")
    assert torch.equal(codes, latent_codes(4096, 8, seed=3, kind="sobol"))
    assert not torch.equal(codes, latent_codes(4096, 8, seed=4, kind="sobol"))
    assert abs(float(codes.mean())) < 0.01 and abs(float(codes.std()) - 1) < 0.02
    normal = latent_codes(4096, 8, seed=3)
    # quasi-random points fill the cube evenly: the mean of each coordinate is far closer to 0 than a random draw's
    assert float(codes.mean(0).abs().max()) < float(normal.mean(0).abs().max())


def _seeded_run(folder: Path, name: str, seed: int, fid: float, ci: tuple[float, float] | None = None) -> Path:
    run = folder / name
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.toml").write_text(f'name = "grid25-gan"\ndata = "grid25"\nsteps = 100\nseed = {seed}\n')
    record = {"schema": 1, "created": "2026-11-30T00:00:00+00:00", "run": name, "checkpoint": "step-0000100.pt",
              "step": 100, "input": name, "reference": "grid25", "extractor": "identity", "num_samples": 2500,
              "num_reference": 2500, "seed": 2020, "fid": fid}
    if ci:
        record.update(fid_ci_low=ci[0], fid_ci_high=ci[1], ci_level=0.95)
    (run / "metrics.jsonl").write_text(json.dumps(record) + "\n")
    return run


def test_compare_groups_seeds_and_shows_intervals(tmp_path):
    for seed, fid in enumerate((1.0, 2.0, 3.0)):
        _seeded_run(tmp_path, f"grid25-gan-seed{seed}", seed, fid)
    _seeded_run(tmp_path, "other", 0, 0.5, ci=(0.4, 0.7))
    (tmp_path / "other" / "config.toml").write_text('name = "grid25-pacgan2"\ndata = "grid25"\nsteps = 100\nseed = 0\n')
    table = ganeval.compare(str(tmp_path / "*"), metrics="fid")
    assert list(table["run"]) == ["other", "grid25-gan"]
    grouped = table.set_index("run")
    assert grouped.loc["grid25-gan", "seeds"] == 3 and grouped.loc["grid25-gan", "fid"] == pytest.approx(2.0)
    assert grouped.loc["grid25-gan", "fid std"] == pytest.approx(1.0)
    assert grouped.loc["other", "fid ci_low"] == 0.4 and grouped.loc["other", "seeds"] == 1
    text = render(table)
    assert "2 ± 1" in text and "0.5 [0.4, 0.7]" in text
    ungrouped = ganeval.compare(str(tmp_path / "*"), metrics="fid", group_seeds=False)
    assert len(ungrouped) == 4 and "seeds" not in ungrouped.columns
    from ganeval.report import write_report

    write_report(str(tmp_path / "*"), tmp_path / "report", "seeds")
    page = (tmp_path / "report" / "README.md").read_text()
    assert "2 ± 1" in page and "0.5 [0.4, 0.7]" in page and "seeds |" in page
