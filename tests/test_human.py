"""Human evaluation (ganeval.human): HYPE rates by hand, their bootstrap, the study folder, scoring answers files
through the CLI, the record where compare and gate read it, and one-line errors for bad input. The browser side
(the page driven in headless Chromium) is tests/test_human_browser.py."""
from __future__ import annotations

import base64
import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

import ganeval
from ganeval import cli
from ganeval.human import study as study_module
from ganeval.human.key import read_key, sha256_hex
from ganeval.human.page import page_images
from ganeval.human.scoring import (bootstrap_rates, error_rates, percentile_interval, resample_counts, soft_labels,
                                   wrong_judgments)

SCRIPTS = ("right", "real", "alternate")


# --- helpers shared with test_human_browser.py -------------------------------------------------------------------


def write_image_arrays(folder: Path, count: int = 12, shape: tuple[int, int, int] = (1, 28, 28)) -> tuple[Path, Path]:
    """fake.npy (blocky random blobs) and real.npy (smooth gradients with a shape on them), uint8 N x C x H x W."""
    rng = np.random.default_rng(7)
    channels, height, width = shape
    coarse = rng.integers(0, 256, (count, channels, height // 4, width // 4))
    fake = np.kron(coarse, np.ones((1, 1, 4, 4))).astype(np.uint8)
    rows, columns = np.mgrid[0:height, 0:width]
    real = np.empty((count, *shape), dtype=np.uint8)
    for index in range(count):
        centre = rng.uniform(0.3, 0.7, 2) * (height, width)
        disc = ((rows - centre[0]) ** 2 + (columns - centre[1]) ** 2) < (height / 4) ** 2
        real[index] = (40 + 150 * disc + columns * (60 / width)).astype(np.uint8)[None]
    np.save(folder / "fake.npy", fake)
    np.save(folder / "real.npy", real)
    return folder / "fake.npy", folder / "real.npy"


def read_study_key(study: Path) -> dict:
    return json.loads((study / "key.json").read_text())


def scripted_answer(script: str, index: int, kind: str) -> str:
    """The answer of a fixed script on the `index`-th trial (page order) showing an image of class `kind`."""
    if script == "right":
        return "real" if kind == "real" else "fake"  # a check is an obvious fake
    if script == "real":
        return "real"
    return "real" if index % 2 == 0 else "fake"


def answers_file(key: dict, rater: str, script: str) -> dict:
    """An answers.json as the page writes it, every trial answered by `script`."""
    trials = [{"image_id": image_id, "answer": scripted_answer(script, index, key["images"][image_id]["class"]),
               "time_ms": 500 + index} for index, image_id in enumerate(key["order"])]
    return {"format": "ganeval-human-answers", "version": 1, "study_id": key["study_id"], "rater_id": rater,
            "user_agent": "test", "started": None, "finished": None, "trials": trials}


def expected_rates(key: dict, answers: list[dict]) -> dict[str, float]:
    """The HYPE rates by counting, trial by trial (checks left out): independent of ganeval.human.scoring."""
    wrong = {"fake": 0, "real": 0}
    seen = {"fake": 0, "real": 0}
    for rater in answers:
        for trial in rater["trials"]:
            kind = key["images"][trial["image_id"]]["class"]
            if kind == "check":
                continue
            seen[kind] += 1
            wrong[kind] += (trial["answer"] == "real") == (kind == "fake")
    return {"hype_inf": (wrong["fake"] + wrong["real"]) / (seen["fake"] + seen["real"]),
            "hype_fake_error": wrong["fake"] / seen["fake"], "hype_real_error": wrong["real"] / seen["real"]}


def check_failures(key: dict, answers: dict) -> int:
    return sum(trial["answer"] == "real" for trial in answers["trials"]
               if key["images"][trial["image_id"]]["class"] == "check")


# --- the rates, by hand ------------------------------------------------------------------------------------------


def test_error_rates_match_hand_counts():
    # images: fake, fake, fake, real, real; rater A judges real, fake, real, real, fake; rater B: all real
    is_fake = np.array([True, True, True, False, False])
    judged_real = np.array([[True, False, True, True, False], [True] * 5])
    # A: fakes judged real 2 of 3, reals judged fake 1 of 2 -> 3 wrong of 5
    assert error_rates(judged_real[:1], is_fake) == pytest.approx(
        {"hype_inf": 3 / 5, "hype_fake_error": 2 / 3, "hype_real_error": 1 / 2})
    # B: 3 of 3 fakes judged real, 0 of 2 reals judged fake; pooled: 6 wrong of 10, fakes 5 of 6, reals 1 of 4
    assert error_rates(judged_real[1:], is_fake) == pytest.approx(
        {"hype_inf": 3 / 5, "hype_fake_error": 1.0, "hype_real_error": 0.0})
    assert error_rates(judged_real, is_fake) == pytest.approx(
        {"hype_inf": 6 / 10, "hype_fake_error": 5 / 6, "hype_real_error": 1 / 4})
    assert wrong_judgments(judged_real[:1], is_fake).tolist() == [[True, False, True, False, True]]
    assert soft_labels(judged_real).tolist() == [1.0, 0.5, 1.0, 1.0, 0.5]


def test_resample_counts_are_draws_with_replacement():
    counts = resample_counts(np.random.default_rng(0), 7, 500)
    assert counts.shape == (500, 7) and np.all(counts.sum(axis=1) == 7) and counts.min() == 0
    assert abs(counts.mean() - 1) < 1e-12 and counts.max() > 1  # some items drawn twice, others not at all


def test_bootstrap_resamples_images_within_their_class():
    # every fake judged real, every real judged real: each replicate keeps the class balance, so the rates are
    # exact whatever is drawn (a resample of images across classes would move hype_inf)
    is_fake = np.array([True] * 6 + [False] * 6)
    replicates = bootstrap_rates(np.ones((3, 12), dtype=bool), is_fake, 300, seed=1)
    assert np.all(replicates["hype_inf"] == 0.5) and np.all(replicates["hype_fake_error"] == 1.0)
    assert np.all(replicates["hype_real_error"] == 0.0)


def test_bootstrap_over_raters_has_the_spread_of_a_mean_of_raters():
    # each rater is alike on every image of a class, so only the rater resampling moves the value, and the spread
    # of a mean of R raters drawn with replacement is the raters' population sd / sqrt(R)
    is_fake = np.array([True] * 4 + [False] * 4)
    fakes_real, reals_real = [False, True, True, False], [True, True, False, True]  # per rater: says real to ...
    judged_real = np.array([[fake] * 4 + [real] * 4 for fake, real in zip(fakes_real, reals_real)])
    rates = [error_rates(judged_real[row:row + 1], is_fake)["hype_inf"] for row in range(4)]
    assert rates == [0.0, 0.5, 1.0, 0.0]
    replicates = bootstrap_rates(judged_real, is_fake, 4000, seed=3)["hype_inf"]
    assert replicates.std() == pytest.approx(np.std(rates) / 2, rel=0.05)
    assert replicates.mean() == pytest.approx(np.mean(rates), abs=0.01)
    again = bootstrap_rates(judged_real, is_fake, 4000, seed=3)["hype_inf"]
    assert np.array_equal(replicates, again)  # seeded
    assert not np.array_equal(replicates, bootstrap_rates(judged_real, is_fake, 4000, seed=4)["hype_inf"])


def test_bootstrap_over_images_for_one_rater():
    # one rater, 20 fakes of which 5 judged real: the fake error of a resample is a binomial share, sd sqrt(pq/n)
    is_fake = np.array([True] * 20 + [False] * 20)
    judged_real = np.zeros((1, 40), dtype=bool)
    judged_real[0, :5] = True
    judged_real[0, 20:] = True  # reals all right
    replicates = bootstrap_rates(judged_real, is_fake, 5000, seed=0)["hype_fake_error"]
    assert replicates.mean() == pytest.approx(0.25, abs=0.01)
    assert replicates.std() == pytest.approx(np.sqrt(0.25 * 0.75 / 20), rel=0.1)
    low, high = percentile_interval(replicates, 0.9)
    assert low < 0.25 < high and 0.05 < low and high < 0.45


# --- the study folder --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def arrays(tmp_path_factory) -> tuple[Path, Path]:
    return write_image_arrays(tmp_path_factory.mktemp("arrays"))


@pytest.fixture(scope="module")
def study(arrays, tmp_path_factory) -> Path:
    """A study of 10 images (5 + 5) and 4 checks, made through the CLI."""
    out = tmp_path_factory.mktemp("studies") / "study"
    assert cli.main(["human", "make", str(arrays[0]), "--reference", str(arrays[1]), "--num-images", "10",
                     "--out", str(out), "--seed", "5"]) == 0
    return out


def test_a_study_holds_half_generated_half_real_and_checks(study, arrays):
    key = read_study_key(study)
    kinds = [key["images"][image_id]["class"] for image_id in key["order"]]
    assert sorted(kinds) == ["check"] * 4 + ["fake"] * 5 + ["real"] * 5
    assert kinds != sorted(kinds) and kinds[:5] != ["fake"] * 5  # shuffled, not in making order
    assert sorted(path.name for path in study.iterdir()) == ["README.txt", "index.html", "key.json"]
    assert key["seed"] == 5 and key["sources"] == {"generated": str(arrays[0]), "reference": str(arrays[1])}
    assert all(re.fullmatch(r"[0-9a-f]{8}", image_id) for image_id in key["order"])
    # the page shows exactly the key's images, in its order, and each hash is that of the PNG shown
    study_id, shown = page_images((study / "index.html").read_text(), "index.html")
    assert study_id == key["study_id"] and list(shown) == key["order"]
    assert all(sha256_hex(png) == key["images"][image_id]["sha256"] for image_id, png in shown.items())
    fakes = np.load(arrays[0])
    decoded = [np.asarray(_png_image(shown[image_id])) for image_id in key["order"]
               if key["images"][image_id]["class"] == "fake"]
    assert all(any(np.array_equal(image, fake[0]) for fake in fakes) for image in decoded)
    assert read_key(study).study_id == key["study_id"]


def _png_image(png: bytes):
    import io

    from PIL import Image

    return Image.open(io.BytesIO(png))


def test_the_page_does_not_hold_the_key(study):
    page = (study / "index.html").read_text()
    key = read_study_key(study)
    assert "key.json" not in page and "sha256" not in page.lower()
    assert not any(entry["sha256"] in page for entry in key["images"].values())
    embedded = json.loads(re.search(r'<script type="application/json" id="study">(.*?)</script>', page, re.S)[1])
    assert set(embedded) == {"study_id", "trials"}
    assert all(set(trial) == {"id", "src"} for trial in embedded["trials"])
    words = re.compile(r"real|fake|check|noise|blank|generated", re.I)
    ids = [trial["id"] for trial in embedded["trials"]]
    assert ids == key["order"] and not words.search(" ".join(ids) + embedded["study_id"])
    assert "default-src 'none'" in page and "http" not in page.lower().replace("http-equiv", "")


def test_remaking_a_study_shows_the_same_images_in_a_secret_new_order(study, arrays, tmp_path, run_cli):
    """The seed chooses the images; ids and order also take each study's secret, so a public seed (the default)
    cannot decode the page: the seed's own permutation says nothing of the order."""
    code, _, err = run_cli("human", "make", arrays[0], "--reference", arrays[1], "--num-images", "10", "--out",
                           tmp_path / "again", "--seed", "5")
    assert code == 0, err
    first, again = read_study_key(study), read_study_key(tmp_path / "again")

    def hashes_by_class(key: dict) -> dict[str, list[str]]:
        return {kind: sorted(entry["sha256"] for entry in key["images"].values() if entry["class"] == kind)
                for kind in ("real", "fake", "check")}

    assert hashes_by_class(again) == hashes_by_class(first)  # the same images
    assert again["secret"] != first["secret"] and len(first["secret"]) == 32
    assert first["secret"] not in (study / "index.html").read_text()
    assert again["order"] != first["order"] and again["study_id"] != first["study_id"]
    # what a rater could compute from the seed alone, were the order the seed's permutation of the making order
    # (fakes, then reals, then checks): the class of every page position
    counts = [sum(entry["class"] == kind for entry in first["images"].values()) for kind in ("fake", "real")]
    guessed = ["fake" if index < counts[0] else "real" if index < sum(counts) else "check"
               for index in np.random.default_rng(5).permutation(len(first["order"]))]
    assert guessed != [first["images"][image_id]["class"] for image_id in first["order"]]
    code, _, err = run_cli("human", "make", arrays[0], "--reference", arrays[1], "--num-images", "10", "--out",
                           tmp_path / "other", "--seed", "6")
    assert code == 0, err
    other = read_study_key(tmp_path / "other")
    assert other["study_id"] != first["study_id"]


@pytest.mark.parametrize("arguments, message", [
    (("--num-images", "9"), "--num-images 9: must be an even number"),
    (("--num-images", "40"), "holds 12 images; the study needs 20"),
    (("--checks", "-1"), "--checks -1: must be 0 or more"),
])
def test_bad_study_requests_are_one_line(arrays, tmp_path, run_cli, arguments, message):
    code, _, err = run_cli("human", "make", arrays[0], "--reference", arrays[1], "--out", tmp_path / "s", *arguments)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "s").exists()


def test_a_study_refuses_a_used_folder_other_shapes_and_points(arrays, tmp_path, run_cli):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("x")
    code, _, err = run_cli("human", "make", arrays[0], "--reference", arrays[1], "--num-images", "4", "--out",
                           tmp_path / "used")
    assert code == 2 and "--out" in err and "not empty" in err and len(err.strip().splitlines()) == 1
    np.save(tmp_path / "rgb.npy", np.zeros((6, 3, 32, 32), dtype=np.uint8))
    code, _, err = run_cli("human", "make", tmp_path / "rgb.npy", "--reference", arrays[1], "--num-images", "4",
                           "--out", tmp_path / "s1")
    assert code == 2 and "3x32x32" in err and "1x28x28" in err and len(err.strip().splitlines()) == 1, err
    code, _, err = run_cli("human", "make", "ring8", "--reference", arrays[1], "--num-images", "4", "--out",
                           tmp_path / "s2")
    assert code == 2 and "ring8: holds points" in err, err
    (tmp_path / "empty").mkdir()  # an empty folder is a new folder
    code, _, err = run_cli("human", "make", arrays[0], "--reference", arrays[1], "--num-images", "4", "--checks", "0",
                           "--out", tmp_path / "empty")
    assert code == 0, err
    assert len(read_study_key(tmp_path / "empty")["order"]) == 4


# --- scoring answers through the CLI -----------------------------------------------------------------------------


def _write_answers(folder: Path, key: dict, scripts: dict[str, str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for rater, script in scripts.items():
        path = folder / f"{rater}.json"
        path.write_text(json.dumps(answers_file(key, rater, script)))
        paths.append(path)
    return paths


@pytest.fixture
def scored_copy(study, tmp_path) -> Path:
    """A copy of the module's study, so that scoring (which writes images.csv and metrics.jsonl) leaves it alone."""
    import shutil

    return Path(shutil.copytree(study, tmp_path / "study"))


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripted_answers_give_the_rates_they_imply(scored_copy, tmp_path, run_cli, script):
    key = read_study_key(scored_copy)
    [path] = _write_answers(tmp_path / "answers", key, {"ann": script})
    code, out, err = run_cli("human", "score", scored_copy, path, "--json")
    assert code == 0, err
    record = json.loads(out)
    expected = expected_rates(key, [answers_file(key, "ann", script)])
    if script == "right":
        assert expected == {"hype_inf": 0.0, "hype_fake_error": 0.0, "hype_real_error": 0.0}
    if script == "real":
        assert expected == {"hype_inf": 0.5, "hype_fake_error": 1.0, "hype_real_error": 0.0}
    assert {name: record[name] for name in expected} == pytest.approx(expected, abs=1e-12)
    failures = check_failures(key, answers_file(key, "ann", script))
    assert record["diagnostics"]["human"]["check_failures"] == {"ann": failures}
    assert failures == {"right": 0, "real": 4}.get(script, failures)
    assert record["extractor"] == "human" and record["num_samples"] == 5 and record["num_reference"] == 5
    assert record["seed"] == 5 and record["provenance"]["study_id"] == key["study_id"]
    assert "hype_inf_ci_low" not in record  # intervals only with --ci
    [line] = (scored_copy / "metrics.jsonl").read_text().splitlines()  # no run: the record goes to the study
    assert json.loads(line)["hype_inf"] == record["hype_inf"]


def test_pooled_raters_soft_labels_and_intervals(scored_copy, tmp_path, run_cli):
    key = read_study_key(scored_copy)
    scripts = {"ann": "right", "bob": "real", "cy": "alternate"}
    paths = _write_answers(tmp_path / "answers", key, scripts)
    code, out, err = run_cli("human", "score", scored_copy, *paths, "--ci", "0.9", "--ci-replicates", "300",
                             "--out", tmp_path / "record.json")
    assert code == 0, err
    answers = [answers_file(key, rater, script) for rater, script in scripts.items()]
    record = json.loads((scored_copy / "metrics.jsonl").read_text().splitlines()[-1])
    assert json.loads((tmp_path / "record.json").read_text()) == record
    expected = expected_rates(key, answers)
    assert {name: record[name] for name in expected} == pytest.approx(expected, abs=1e-12)
    for name, value in expected.items():
        assert 0 <= record[f"{name}_ci_low"] <= value <= record[f"{name}_ci_high"] <= 1
    assert record["hype_inf_ci_low"] < record["hype_inf_ci_high"] and record["ci_level"] == 0.9
    assert record["diagnostics"]["ci"]["replicates"] == 300
    per_rater = {row["rater_id"]: row for row in record["diagnostics"]["human"]["per_rater"]}
    for rater, script in scripts.items():
        alone = expected_rates(key, [answers_file(key, rater, script)])
        assert {name: per_rater[rater][name] for name in alone} == pytest.approx(alone)
    assert "ann" in out and "bob" in out and "attention checks failed" in out and "bob 4 of 4" in out
    with open(scored_copy / "images.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["image_id"] for row in rows] == key["order"]
    for row in rows:
        said_real = sum(trial["answer"] == "real" for rater in answers for trial in rater["trials"]
                        if trial["image_id"] == row["image_id"])
        assert row["class"] == key["images"][row["image_id"]]["class"] and row["judgments"] == "3"
        assert float(row["judged_real"]) == pytest.approx(said_real / 3, abs=1e-6)


def test_raters_failing_too_many_checks_are_left_out_when_asked(scored_copy, tmp_path, run_cli):
    key = read_study_key(scored_copy)
    paths = _write_answers(tmp_path / "answers", key, {"ann": "right", "bob": "real"})  # bob fails all 4 checks
    code, out, err = run_cli("human", "score", scored_copy, *paths, "--max-check-failures", "1", "--ci",
                             "--json")
    assert code == 0, err
    record = json.loads(out)
    alone = expected_rates(key, [answers_file(key, "ann", "right")])
    assert {name: record[name] for name in alone} == pytest.approx(alone, abs=1e-12)  # bob left out
    assert record["hype_inf_ci_high"] == 0.0  # the intervals resample ann alone: always right
    human = record["diagnostics"]["human"]
    assert human["excluded_raters"] == ["bob"] and human["raters"] == 1 and human["check_failures"]["bob"] == 4
    assert {row["rater_id"] for row in human["per_rater"]} == {"ann", "bob"}  # still reported
    with open(scored_copy / "images.csv") as handle:
        assert {row["judgments"] for row in csv.DictReader(handle)} == {"1"}
    code, out, _ = run_cli("human", "score", scored_copy, *paths, "--max-check-failures", "1")
    assert code == 0 and "left out of the pooled rates (more than 1 checks failed): bob" in out
    code, _, err = run_cli("human", "score", scored_copy, paths[1], "--max-check-failures", "0")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "no rater is left to score" in err
    code, _, err = run_cli("human", "score", scored_copy, *paths, "--max-check-failures", "-1")
    assert code == 2 and "--max-check-failures -1: must be 0 or more" in err


def _answers(study: Path, tmp_path: Path, change=None, name: str = "ann.json") -> Path:
    data = answers_file(read_study_key(study), "ann", "right")
    if change is not None:
        change(data)
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("change, message", [
    (lambda data: data.update(study_id="0123456789abcdef"), "answers for study \"0123456789abcdef\", but"),
    (lambda data: data["trials"].append(dict(data["trials"][0])), "is answered twice (trials 1 and 15)"),
    (lambda data: data["trials"].pop(), "1 of 14 images are not answered"),
    (lambda data: data["trials"][2].update(image_id="zzzz"), "trial 3: image \"zzzz\" is not in the study's key"),
    (lambda data: data["trials"][0].update(answer="maybe"), "trial 1: answer \"maybe\" must be \"real\" or \"fake\""),
    (lambda data: data["trials"][0].update(time_ms=-3), "trial 1: time_ms -3 must be a number"),
    (lambda data: data.update(rater_id=" "), "'rater_id' must be a non-empty string"),
    (lambda data: data.pop("format"), "not a ganeval answers file"),
])
def test_bad_answers_are_one_line_naming_the_file(scored_copy, tmp_path, run_cli, change, message):
    path = _answers(scored_copy, tmp_path, change)
    code, _, err = run_cli("human", "score", scored_copy, path)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert str(path) in err and message in err, err
    assert not (scored_copy / "metrics.jsonl").exists() and not (scored_copy / "images.csv").exists()


def test_malformed_json_and_a_rater_twice_are_one_line(scored_copy, tmp_path, run_cli):
    broken = tmp_path / "broken.json"
    broken.write_text('{"study_id": ')
    code, _, err = run_cli("human", "score", scored_copy, broken)
    assert code == 2 and f"{broken}: not valid JSON" in err and len(err.strip().splitlines()) == 1, err
    first, second = _answers(scored_copy, tmp_path), _answers(scored_copy, tmp_path, name="again.json")
    code, _, err = run_cli("human", "score", scored_copy, first, second)
    assert code == 2 and f"{second}: rater 'ann' already answered in {first}" in err, err


def test_a_key_that_does_not_match_the_page_is_refused(scored_copy, tmp_path, run_cli):
    answers = _answers(scored_copy, tmp_path)
    key_path = scored_copy / "key.json"
    original = key_path.read_text()
    key = json.loads(original)
    victim = key["order"][3]
    key["images"][victim]["sha256"] = "0" * 64
    key_path.write_text(json.dumps(key))
    code, _, err = run_cli("human", "score", scored_copy, answers)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert str(key_path) in err and f"image {victim} has SHA256 000000000000" in err and "does not match" in err
    # an image swapped in the page (the key unchanged) is caught the same way
    key_path.write_text(original)
    page_path = scored_copy / "index.html"
    page = page_path.read_text()
    _, shown = page_images(page, "index.html")
    first, other = key["order"][0], key["order"][1]
    page_path.write_text(page.replace(base64.b64encode(shown[first]).decode(), base64.b64encode(shown[other]).decode()))
    code, _, err = run_cli("human", "score", scored_copy, answers)
    assert code == 2 and f"image {first} has SHA256" in err, err
    page_path.write_text(page)
    key_path.write_text(original[:-20])
    code, _, err = run_cli("human", "score", scored_copy, answers)
    assert code == 2 and f"{key_path}: not valid JSON" in err, err
    code, _, err = run_cli("human", "score", tmp_path / "nowhere", answers)
    assert code == 2 and "not a study folder" in err, err


def test_human_is_not_a_metric_that_score_computes(run_cli, arrays):
    code, _, err = run_cli("score", arrays[0], arrays[1], "--metrics", "fid,human", "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "metric 'human' is not computed from features; `ganeval human score` records it" in err
    help_text = cli.build_parser()._subparsers._group_actions[0].choices["score"].format_help()
    assert "human is recorded by" in " ".join(help_text.split())


def test_the_cli_defaults_are_the_librarys():
    assert cli.HUMAN_DEFAULT_CHECKS == study_module.DEFAULT_CHECKS


# --- a checkpoint's study: the record in its run, beside FID, for compare and gate --------------------------------


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory, arrays) -> Path:
    """A one-step fmnist-dcgan run (tiny networks) whose checkpoint has an FID record."""
    from ganeval.train.config import load_config
    from ganeval.train.loop import train

    folder = tmp_path_factory.mktemp("dcgan")
    config = load_config("fmnist-dcgan", ["steps=1", "batch_size=8", "eval_every=0", "max_minutes=0",
                                          f"data='{arrays[1]}'", "model_options.generator_width=4",
                                          "model_options.discriminator_width=4", "model_options.latent_dim=8"])
    train(config, folder / "run", progress=False)
    fid = {"schema": 1, "created": "2026-01-01T00:00:00+00:00", "run": "run", "checkpoint": "step-0000001.pt",
           "step": 1, "input": str(folder / "run" / "checkpoints" / "step-0000001.pt"), "reference": str(arrays[1]),
           "extractor": "fmnist-classifier", "num_samples": 12, "num_reference": 12, "seed": 2020, "fid": 123.0}
    (folder / "run" / "metrics.jsonl").write_text(json.dumps(fid) + "\n")
    return folder / "run"


def test_a_checkpoint_study_records_in_its_run_for_compare_and_gate(dcgan_run, arrays, tmp_path, run_cli):
    code, _, err = run_cli("human", "make", dcgan_run, "--reference", arrays[1], "--num-images", "8", "--out",
                           tmp_path / "study")  # a run stands for its last checkpoint
    assert code == 0, err
    key = read_study_key(tmp_path / "study")
    assert key["checkpoint"]["checkpoint"] == "step-0000001.pt" and key["checkpoint"]["step"] == 1
    assert key["checkpoint"]["run_dir"] == str(dcgan_run.resolve())
    for script, gate_code in (("right", 1), ("real", 0)):  # hype_inf 0 fails --min 0.3; 0.5 (the latest) passes
        [path] = _write_answers(tmp_path / script, key, {"ann": script})
        code, _, err = run_cli("human", "score", tmp_path / "study", path)
        assert code == 0 and str(dcgan_run / "metrics.jsonl") in err, err
        code, out, err = run_cli("gate", dcgan_run, "--min", "hype_inf=0.3")
        assert code == gate_code, out + err
        assert "hype_inf" in out
    assert not (tmp_path / "study" / "metrics.jsonl").exists()
    records = [json.loads(line) for line in (dcgan_run / "metrics.jsonl").read_text().splitlines()]
    assert [record.get("hype_inf") for record in records] == [None, 0.0, 0.5]
    assert records[-1]["checkpoint"] == "step-0000001.pt" and records[-1]["run"] == "run"
    code, table, err = run_cli("compare", dcgan_run)
    assert code == 0 and "fid [" in table and "hype_inf [" in table and "hype_fake_error [" in table, err
    [row] = ganeval.compare(dcgan_run).to_dict("records")
    fid = next(value for name, value in row.items() if name.startswith("fid ["))
    hype = next(value for name, value in row.items() if name.startswith("hype_inf ["))
    assert (fid, hype) == (123.0, 0.5), row
    code, out, err = run_cli("gate", dcgan_run / "checkpoints" / "step-0000001.pt", "--min", "hype_inf=0.3",
                             "--min", "hype_fake_error=0.9")
    assert code == 0, out + err
    code, out, err = run_cli("gate", dcgan_run, "--max", "fid=200", "--min", "hype_inf=0.3")
    assert code == 2 and "--setting" in err and len(err.strip().splitlines()) == 1, out + err  # two settings
    code, out, err = run_cli("gate", dcgan_run, "--min", "hype_real_error=0.1")
    assert code == 2 and "hype_real_error" in err, out + err  # no direction: reported, never gated
