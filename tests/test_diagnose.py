"""ganeval diagnose: each finding kind from hand-written training.jsonl and metrics.jsonl files, the damaged files,
short real runs, and the command's JSON, exit codes and one-line errors."""
from __future__ import annotations

import json
import math

import pytest

from ganeval.cli import DIAGNOSIS_KINDS
from ganeval.diagnose import KINDS, THRESHOLDS, diagnose_run, parse_kinds
from ganeval.errors import InputError, RecordsWarning
from ganeval.training_log import TrainingLog

from .conftest import needs_fmnist, write_scored_run

STEPS = range(20, 1020, 20)  # 50 logged steps


def write_lines(run, make_line, config: str | None = None):
    """training.jsonl of `run` with make_line(step) for each of STEPS, and config.toml when given."""
    run.mkdir(parents=True, exist_ok=True)
    log = TrainingLog(run)
    for step in STEPS:
        log.log(step, **make_line(step))
    if config is not None:
        (run / "config.toml").write_text(config)
    return run


def calm(step: int) -> dict:
    """A balanced game: losses near the BCE equilibrium, D at 60-70% accuracy, modest gradients."""
    wobble = 0.05 * math.sin(step / 40)
    return {"d_loss": 1.2 + wobble, "g_loss": 0.9 - wobble, "d_accuracy": 0.65 + wobble, "d_accuracy_fake": 0.7,
            "grad_norm_d": 3.0 + wobble, "grad_norm_g": 1.5, "loss": "ns"}


def kinds_of(run) -> list[str]:
    return [finding.kind for finding in diagnose_run(run).findings]


def test_the_cli_lists_the_kinds_diagnose_knows():
    assert DIAGNOSIS_KINDS == KINDS
    assert all(threshold.reason for threshold in THRESHOLDS.values())


def test_a_balanced_run_is_healthy_and_says_what_it_could_not_judge(tmp_path):
    diagnosis = diagnose_run(write_lines(tmp_path / "calm", calm))
    assert diagnosis.healthy and diagnosis.findings == ()
    assert set(diagnosis.not_judged) == {"oscillation", "mode_collapse", "mode_hopping", "learning_rate_mismatch"}
    assert "no metrics.jsonl" in diagnosis.not_judged["oscillation"]
    assert "the learning rates are unknown" in diagnosis.not_judged["learning_rate_mismatch"]


def test_what_cannot_be_judged_is_said_never_called_healthy(tmp_path):
    def critic(step):  # WGAN-GP: no accuracy, no equilibrium loss
        return {"d_loss": -2.0, "g_loss": 5.0, "wasserstein": 2.0, "grad_norm_d": 3.0, "loss": "wgan-gp"}

    diagnosis = diagnose_run(write_lines(tmp_path / "critic", critic, config="lr_d = 8e-4\nlr_g = 8e-4\n"))
    assert "loss wgan-gp: a critic's scores have no accuracy" in diagnosis.not_judged["discriminator_wins"]
    assert "learning_rate_mismatch" in diagnosis.not_judged and "divergence" not in diagnosis.not_judged
    single = tmp_path / "single"
    TrainingLog(single).log(20, d_loss=0.01, g_loss=9.0, d_accuracy=1.0, my_metric=float("nan"))
    diagnosis = diagnose_run(single)  # a user's own key at NaN is no divergence
    assert diagnosis.findings == () and "1 line(s) with d_accuracy and d_loss; 5 needed" in \
        diagnosis.not_judged["discriminator_wins"]
    started = tmp_path / "started"
    (started / "checkpoints").mkdir(parents=True)  # a run folder with neither file yet
    diagnosis = diagnose_run(started)
    assert not diagnosis.healthy and set(diagnosis.not_judged) == set(KINDS)


def test_a_nan_is_divergence_caught_at_its_first_step(tmp_path):
    def breaks_at_500(step):
        return calm(step) if step < 500 else {**calm(step), "d_loss": float("nan"), "grad_norm_d": float("inf")}

    (finding,) = diagnose_run(write_lines(tmp_path / "nan", breaks_at_500)).findings
    assert (finding.kind, finding.first_step, finding.last_step) == ("divergence", 500, 1000)
    assert finding.evidence["last_finite_step"] == 480 and finding.evidence["keys"] == ["d_loss", "grad_norm_d"]
    assert "Mescheder" in finding.citation and finding.remedy


def test_saturated_discriminator_outputs_are_divergence_from_the_first_line(tmp_path):
    def broken(step):  # a learning rate of 1: D's logits in the thousands after one step, every gradient 0
        return {**calm(step), "d_real": 1852.6, "d_fake": -134.1, "d_loss": 0.0, "g_loss": 134.1, "d_accuracy": 1.0,
                "grad_norm_d": 0.0, "grad_norm_g": 0.0}

    (finding,) = diagnose_run(write_lines(tmp_path / "saturated", broken)).findings  # D "wins" only once broken
    assert (finding.kind, finding.first_step, finding.last_step) == ("divergence", 20, 1000)
    assert finding.evidence["d_real"] == 1852.6 and finding.evidence["grad_norm_g"] == 0.0
    assert finding.evidence["last_good_step"] is None and "D saturated at step 20" in finding.summary


def test_gradient_norms_growing_by_orders_of_magnitude_are_divergence(tmp_path):
    def exploding(step):
        return {**calm(step), "grad_norm_g": 1.5 * 10 ** (step / 250)}  # 1.5 -> 15,000 over the run

    (finding,) = diagnose_run(write_lines(tmp_path / "growth", exploding)).findings
    assert finding.kind == "divergence" and finding.evidence["key"] == "grad_norm_g"
    assert finding.evidence["late_median"] > 100 * finding.evidence["early_median"]

    def growing_from_a_tiny_start(step):  # healthy 2D mixtures: 0.7 -> 250 (ring8-pacgan2), below the floor of 1,000
        return {**calm(step), "grad_norm_g": 0.7 * 350 ** (step / 1000)}

    assert diagnose_run(write_lines(tmp_path / "tiny-start", growing_from_a_tiny_start)).findings == ()


def dominated(step: int) -> dict:
    """D separates everything from step 200 on: accuracy 1, loss near 0."""
    if step < 200:
        return calm(step)
    return {**calm(step), "d_loss": 0.02, "g_loss": 6.0, "d_accuracy": 0.995, "d_accuracy_fake": 1.0}


@pytest.mark.parametrize("fid_at_end, found", [(48.0, True), (20.0, False)], ids=["fid-stuck", "fid-improving"])
def test_the_discriminator_winning_while_fid_stops_improving(tmp_path, fid_at_end, found):
    run = write_scored_run(tmp_path, "dwins", {0: {"fid": 300.0}, 200: {"fid": 50.0}, 600: {"fid": 49.0},
                                               1000: {"fid": fid_at_end}})
    write_lines(run, dominated)
    findings = diagnose_run(run).findings
    assert [finding.kind for finding in findings] == (["discriminator_wins"] if found else [])
    if found:
        assert (findings[0].first_step, findings[0].last_step) == (200, 1000)
        assert findings[0].evidence["mean_d_accuracy"] > 0.99 and findings[0].evidence["fid_end"] == 48.0


def test_a_learning_rate_mismatch_names_the_rates_and_their_ratio(tmp_path):
    run = write_lines(tmp_path / "fast-d", dominated, config='loss = "ns"\nlr_d = 8e-4\nlr_g = 8e-5\nd_steps = 1\n')
    diagnosis = diagnose_run(run)
    assert [finding.kind for finding in diagnosis.findings] == ["discriminator_wins", "learning_rate_mismatch"]
    mismatch = diagnosis.findings[1]
    assert mismatch.evidence["ratio"] == pytest.approx(10) and mismatch.evidence["direction"] == "discriminator too fast"
    assert "lr_d 0.0008 x 1 D steps against lr_g 8e-05: ratio 10" in mismatch.summary

    def fooled(step):  # D stays at chance, its loss at the equilibrium: G outruns it
        return {**calm(step), "d_loss": 1.4, "d_accuracy": 0.5}

    run = write_lines(tmp_path / "fast-g", fooled, config='loss = "ns"\nlr_d = 8e-5\nlr_g = 8e-4\n')
    (finding,) = diagnose_run(run).findings
    assert finding.kind == "learning_rate_mismatch" and finding.evidence["direction"] == "generator too fast"
    # the same signals with balanced rates are no mismatch: the pattern and the rates together name it
    assert kinds_of(write_lines(tmp_path / "even", fooled, config="lr_d = 2e-4\nlr_g = 2e-4\n")) == []


def test_fid_oscillating_beyond_noise_and_within_intervals(tmp_path):
    fids = {0: 300.0, 500: 40.0, 1000: 30.0, 1500: 42.0, 2000: 28.0, 2500: 41.0}
    run = write_scored_run(tmp_path, "swings", {step: {"fid": fid} for step, fid in fids.items()})
    (finding,) = diagnose_run(run).findings
    assert finding.kind == "oscillation" and (finding.first_step, finding.last_step) == (1000, 2500)
    assert [rise[:2] for rise in finding.evidence["rises"]] == [[1000, 1500], [2000, 2500]]
    # the same values with bootstrap intervals that overlap: the moves are noise
    wide = {step: {"fid": fid, "fid_ci_low": fid - 10, "fid_ci_high": fid + 10} for step, fid in fids.items()}
    assert kinds_of(write_scored_run(tmp_path, "noisy", wide)) == []


def test_mode_collapse_needs_diversity_falling_while_precision_holds(tmp_path):
    def scores(precision_at_end):
        return {0: {"modes": 2, "precision": 0.0}, 1000: {"modes": 18, "precision": 0.8},
                2000: {"modes": 21, "precision": 0.85}, 3000: {"modes": 12, "precision": precision_at_end},
                4000: {"modes": 13, "precision": precision_at_end}}

    (finding,) = diagnose_run(write_scored_run(tmp_path, "collapse", scores(0.84))).findings
    assert (finding.kind, finding.first_step, finding.last_step) == ("mode_collapse", 2000, 4000)
    assert finding.evidence["best"] == 21 and finding.evidence["worst"] == 12 and finding.evidence["precision_now"] == 0.84
    dip = scores(0.84)
    dip[4000]["modes"] = 20  # one low checkpoint, then back: a dip, not a collapse
    assert kinds_of(write_scored_run(tmp_path, "dip", dip)) == []
    assert kinds_of(write_scored_run(tmp_path, "worse", scores(0.3))) == []  # quality fell too: another failure
    noisy = scores(0.84)
    noisy[2000].update(modes_ci_low=11, modes_ci_high=25)
    noisy[3000].update(modes_ci_low=9, modes_ci_high=15)  # the intervals overlap: the fall may be noise
    noisy[4000].update(modes_ci_low=9, modes_ci_high=15)
    assert kinds_of(write_scored_run(tmp_path, "noisy", noisy)) == []


def test_mode_hopping_is_modes_lost_and_found_again_between_checkpoints(tmp_path):
    def counts(covered):
        return [100 if mode in covered else 0 for mode in range(10)]

    def run(name, sets):
        scores = {step: {"modes": len(covered), "diagnostics": {"modes": {"mode_counts": counts(covered)}}}
                  for step, covered in sets.items()}
        return diagnose_run(write_scored_run(tmp_path, name, scores)).findings

    # modes 0-1 and 5-6 lost and found again; the others keep their state
    (finding,) = run("hops", {0: set(range(10)), 1000: {0, 1, 2, 3, 4}, 2000: {2, 3, 4, 5, 6}, 3000: {0, 1, 2, 3, 4}})
    assert finding.kind == "mode_hopping" and (finding.first_step, finding.last_step) == (2000, 3000)
    assert finding.evidence["modes"] == {"0": [[2000, "lost"], [3000, "gained"]], "1": [[2000, "lost"], [3000, "gained"]],
                                         "5": [[2000, "gained"], [3000, "lost"]], "6": [[2000, "gained"], [3000, "lost"]]}
    # modes moving on without coming back are no hopping; nor a count wavering between the two lines
    assert run("moves", {0: set(range(10)), 1000: {0, 1, 2, 3, 4}, 2000: {2, 3, 4, 5, 6}, 3000: {4, 5, 6, 7, 8}}) == ()


def test_damaged_and_empty_files(tmp_path):
    run = write_lines(tmp_path / "cut", calm)
    with open(run / "training.jsonl", "a") as file:
        file.write('{"step": 1020, "d_lo')  # a crash cut the last line
    with pytest.warns(RecordsWarning, match="truncated"):
        assert diagnose_run(run).healthy
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "training.jsonl").write_text("")
    diagnosis = diagnose_run(empty)
    assert not diagnosis.healthy and set(diagnosis.not_judged) == set(KINDS)  # nothing judged is not healthy
    with pytest.raises(InputError, match="holds neither training.jsonl nor metrics.jsonl"):
        diagnose_run(tmp_path)
    with pytest.raises(InputError, match=r"--fail-on divergence,typo: unknown kind 'typo'"):
        parse_kinds("divergence,typo")
    with pytest.raises(InputError, match="--fail-on ',': no kind given"):
        parse_kinds(",")
    # a hand-edited nonfinite map that names no NaN or infinity: the line is skipped, with a warning
    edited = tmp_path / "edited"
    edited.mkdir()
    (edited / "training.jsonl").write_text('{"step": 20, "d_loss": null, "nonfinite": {"d_loss": "oops"}}\n'
                                           '{"step": 40, "d_loss": 1.0}\n')
    with pytest.warns(RecordsWarning, match="training.jsonl:1: unreadable training line skipped"):
        assert diagnose_run(edited).findings == ()


def test_the_command_prints_json_and_fails_on_the_kinds_asked(tmp_path, run_cli):
    run = write_lines(tmp_path / "runs" / "fast-d", dominated, config="lr_d = 8e-4\nlr_g = 8e-5\n")
    write_lines(tmp_path / "runs" / "calm", calm)
    code, out, err = run_cli("diagnose", tmp_path / "runs", "--json")
    assert code == 0, err
    first, second = (json.loads(line) for line in out.splitlines())
    assert (first["run"], first["healthy"], second["run"], second["healthy"]) == ("calm", True, "fast-d", False)
    assert {finding["kind"] for finding in second["findings"]} == {"discriminator_wins", "learning_rate_mismatch"}
    assert set(second["findings"][0]) == {"kind", "first_step", "last_step", "summary", "evidence", "remedy", "citation"}
    code, out, _ = run_cli("diagnose", run, "--fail-on", "learning_rate_mismatch")
    assert code == 1 and "fast-d: 2 findings (discriminator_wins, learning_rate_mismatch)" in out
    assert "remedy: " in out
    assert run_cli("diagnose", run, "--fail-on", "divergence")[0] == 0
    code, _, err = run_cli("diagnose", tmp_path / "nowhere")
    assert code == 2 and err.strip().endswith("no such run directory")
    (tmp_path / "runs" / "README.md").write_text("notes")  # a glob matching files beside the runs takes the runs
    code, out, err = run_cli("diagnose", str(tmp_path / "runs" / "*"))
    assert code == 0 and out.count("\n") >= 2 and "calm: healthy" in out, err


def test_the_report_shows_each_runs_signals_with_the_diagnosed_spans_and_findings(tmp_path):
    from ganeval.report import write_report

    run = write_scored_run(tmp_path / "runs", "fast-d", {0: {"fid": 300.0}, 200: {"fid": 50.0}, 1000: {"fid": 49.0}})
    write_lines(run, dominated, config='loss = "ns"\nlr_d = 8e-4\nlr_g = 8e-5\n')
    write_scored_run(tmp_path / "runs", "scored-only", {0: {"fid": 300.0}, 1000: {"fid": 30.0}})
    own_keys = write_scored_run(tmp_path / "runs", "own-keys", {0: {"fid": 300.0}, 1000: {"fid": 30.0}})
    write_lines(own_keys, lambda step: {"my_kl": 0.5})  # a user's loop logging keys of its own only: no figure
    broken = write_scored_run(tmp_path / "runs", "broken", {0: {"fid": 300.0}})
    (broken / "training.jsonl").write_text("not json\n")  # spoils its own section, not the report
    index = write_report(tmp_path / "runs", tmp_path / "report")
    readme = (tmp_path / "report" / "README.md").read_text()
    assert "Training health (`ganeval diagnose`): 2 finding(s)" in readme
    assert "- discriminator\\_wins at steps 200-1000" in readme and "![training signals of fast-d](health-fast-d.png)" in readme
    assert (tmp_path / "report" / "health-fast-d.png").stat().st_size > 10_000
    assert "not judged: divergence (no training.jsonl" in readme  # the run scored without signals
    assert "learning_rate_mismatch at steps 200-1000" in index.read_text()
    assert not (tmp_path / "report" / "health-own-keys.png").exists()
    assert "not diagnosed" in readme and "not a ganeval training lines file" in readme


SHORT = ["steps=150", "checkpoint_every=150", "log_every=5", "eval_every=0", "batch_size=16", "max_minutes=0"]


@needs_fmnist
@pytest.mark.parametrize("rates, kinds", [(["lr_g=1.0", "lr_d=1.0"], ["divergence"]),
                                          (["lr_g=8e-6"], ["discriminator_wins", "learning_rate_mismatch"]),
                                          (["lr_d=8e-6"], ["learning_rate_mismatch"])],
                         ids=["lr-1", "d-100x-g", "g-100x-d"])
def test_short_fmnist_runs_with_broken_rates_are_named(tmp_path, rates, kinds):
    """Seconds-long versions of the calibration runs (benchmarks/training_health.py): 150 steps of fmnist-dcgan."""
    from ganeval.train.config import load_config
    from ganeval.train.loop import train

    train(load_config("fmnist-dcgan", [*SHORT, *rates]), tmp_path / "run", progress=False)
    diagnosis = diagnose_run(tmp_path / "run")
    assert [finding.kind for finding in diagnosis.findings] == kinds
    if kinds == ["divergence"]:  # caught at the step it broke: D's scores were sent past +-50 by the first update
        assert diagnosis.findings[0].first_step == 1 and "D saturated at step 1" in diagnosis.findings[0].summary
    else:
        direction = "discriminator too fast" if "discriminator_wins" in kinds else "generator too fast"
        assert diagnosis.findings[-1].evidence["direction"] == direction


def test_a_short_ring8_run_with_the_shipped_rates_is_healthy(tmp_path):
    from ganeval.train.config import load_config
    from ganeval.train.loop import train

    train(load_config("ring8-gan", ["steps=200", "checkpoint_every=200", "log_every=10", "eval_every=0",
                                    "batch_size=32", "train_size=2000"]), tmp_path / "ring8", progress=False)
    assert diagnose_run(tmp_path / "ring8").findings == ()
