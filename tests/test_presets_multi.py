"""Presets (--preset: a protocol by its published name) and several extractors in one score (decoded once)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ganeval import arguments, cli, features
from ganeval.config import ExtractorConfig, ScoreConfig
from ganeval.errors import InputError
from ganeval.features.registry import _FACTORIES, FeatureExtractor
from ganeval.metrics.registry import METRIC_FAMILIES
from ganeval.presets import PRESETS, Preset, apply_preset, register_preset
from ganeval.records import Record

from .conftest import TINY_2D, set_flags

QUIET = ("--quiet", "--no-cache")


@pytest.fixture
def doubled_extractor():
    """A second extractor for vectors: the identity scaled by 2, so FID in its space is 4 times the identity's."""
    @features.register("doubled")
    def create_doubled(device) -> FeatureExtractor:
        return FeatureExtractor("doubled", lambda batch: {"features": 2 * batch.double()}, device, "features")

    yield "doubled"
    del _FACTORIES["doubled"]


@pytest.fixture
def toy_preset():
    preset = register_preset(Preset("toy-fid", "identity", ("fid", "prdc"), 300, 1000, "a test's protocol",
                                    {"prdc": {"k": 3}}))
    yield preset
    del PRESETS[preset.name]


@pytest.mark.parametrize("name, extractor, metrics, num_samples, cap", [
    ("fid50k", "inception-v3-compat", ("fid",), 50_000, 50_000),
    ("fid50k-full", "inception-v3-compat", ("fid",), 50_000, None),
    ("fd-dinov2", "dinov2-vit-l-14", ("fid",), 50_000, None),
    ("cmmd", "clip-vit-l-14-336", ("cmmd",), 30_000, None),
    ("pr50k3", "vgg16", ("prdc",), 50_000, 50_000),
])
def test_each_preset_sets_what_the_literature_means_by_its_name(name, extractor, metrics, num_samples, cap):
    config = apply_preset(ScoreConfig(), name)
    assert (config.extractor.name, config.metrics, config.num_samples, config.reference_cap, config.preset) == (
        extractor, metrics, num_samples, cap, name)
    if name == "pr50k3":
        assert config.metric_options["prdc"].k == 3  # stylegan's nhood_size=3


def test_a_flag_that_contradicts_the_preset_is_one_line():
    for changed, flag in ((dict(num_samples=1000), "--num-samples 1000"),
                          (dict(extractor=ExtractorConfig("dinov2-vit-s-14")), "--extractor dinov2-vit-s-14"),
                          (dict(metrics=("kid",)), "--metrics kid"),
                          (dict(metric_options={"prdc": METRIC_FAMILIES["prdc"].options(k=7)}), "--prdc-k 7")):
        with pytest.raises(InputError, match=flag):
            apply_preset(ScoreConfig(**changed), "pr50k3")
    # saying what the preset says anyway, and weights for its extractor, are not contradictions
    config = apply_preset(ScoreConfig(num_samples=50_000, extractor=ExtractorConfig(
        "vgg16", {"vgg16": {"weights": "w.pth"}})), "pr50k3")
    assert config.extractor.options == {"vgg16": {"weights": "w.pth"}}
    with pytest.raises(InputError, match="unknown preset 'fid10k'"):
        apply_preset(ScoreConfig(), "fid10k")


def test_a_preset_score_follows_it_and_the_record_says_so(run_cli, toy_preset, tmp_path, rng):
    np.save(tmp_path / "fake.npy", rng.normal(size=(600, 3)).astype(np.float32))
    np.save(tmp_path / "real.npy", rng.normal(0.2, 1.0, size=(2500, 3)).astype(np.float32))
    fake, real = tmp_path / "fake.npy", tmp_path / "real.npy"
    code, out, err = run_cli("score", fake, real, "--preset", "toy-fid", "--json", *QUIET)
    assert code == 0, err
    record = json.loads(out)
    assert record["preset"] == "toy-fid" and record["extractor"] == "identity"
    assert (record["num_samples"], record["num_reference"]) == (300, 1000)  # 2,500 reference rows: capped at 1,000
    assert record["diagnostics"]["prdc"]["k"] == 3 and "kid_mean" not in record
    assert Record.from_json(record).preset == "toy-fid" and Record.from_json(record).to_json() == record
    plain = json.loads(run_cli("score", fake, real, "--num-samples", "300", "--reference-samples", "1000",
                               "--metrics", "fid,prdc", "--prdc-k", "3", "--json", *QUIET)[1])
    assert "preset" not in plain  # the same protocol by hand: the same subsets, the same values
    assert {key: plain[key] for key in ("fid", "precision", "recall")} == {
        key: record[key] for key in ("fid", "precision", "recall")}


def test_a_preset_cap_above_the_reference_takes_the_whole_reference(run_cli):
    preset = register_preset(Preset("toy-big", "identity", ("fid",), 300, 5000, "a test's protocol"))
    try:
        code, out, err = run_cli("score", "ring8", "ring8", "--preset", "toy-big", "--json", *QUIET)
    finally:
        del PRESETS[preset.name]
    assert code == 0, err
    assert json.loads(out)["num_reference"] == 2500  # stylegan's max_real: min(len(dataset), cap)


def test_a_preset_contradiction_on_the_command_line_is_exit_2(run_cli, toy_preset):
    code, _, err = run_cli("score", "ring8", "ring8", "--preset", "toy-fid", "--num-samples", "200", *QUIET)
    assert code == 2 and "--num-samples 200 contradicts --preset toy-fid" in err and len(err.strip().splitlines()) == 1


def test_several_extractors_read_the_data_once_and_give_a_record_each(run_cli, tmp_path, monkeypatch,
                                                                      doubled_extractor, rng):
    import ganeval.pipeline as pipeline

    np.save(tmp_path / "fake.npy", rng.normal(size=(400, 4)).astype(np.float32))
    np.save(tmp_path / "real.npy", rng.normal(0.3, 1.0, size=(500, 4)).astype(np.float32))
    reads = []
    original = pipeline.load_source
    monkeypatch.setattr(pipeline, "load_source", lambda spec, **kwargs: reads.append(spec) or original(spec, **kwargs))
    code, out, err = run_cli("score", tmp_path / "fake.npy", tmp_path / "real.npy", "--extractor", "identity,doubled",
                             "--metrics", "fid,kid", "--json", "--out", tmp_path / "both.json", "--append",
                             tmp_path / "run", *QUIET)
    assert code == 0, err
    assert sorted(reads) == sorted([str(tmp_path / "fake.npy"), str(tmp_path / "real.npy")])  # once each
    identity, doubled = (json.loads(line) for line in out.splitlines())
    assert (identity["extractor"], doubled["extractor"]) == ("identity", "doubled")
    assert doubled["fid"] == pytest.approx(4 * identity["fid"], rel=1e-9)  # FD scales with the square of a scale
    assert [record["extractor"] for record in json.loads((tmp_path / "both.json").read_text())] == ["identity", "doubled"]
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["extractor"] for line in lines] == ["identity", "doubled"]


def test_a_sweep_with_several_extractors_scores_each_checkpoint_once_per_extractor(run_cli, tmp_path,
                                                                                   doubled_extractor):
    code, _, err = run_cli("train", "ring8-gan", *set_flags(*TINY_2D), "--set",
                           "checkpoint_every=2", "--set", "eval_every=0", "--steps", "2", "--out", tmp_path / "run",
                           "--quiet")
    assert code == 0, err
    sweep = ("score", tmp_path / "run", "--reference", "ring8", "--num-samples", "500", "--metrics", "fid", "--json",
             *QUIET)
    code, out, err = run_cli(*sweep, "--extractor", "identity")
    assert code == 0, err
    assert len(out.splitlines()) == 2  # steps 0 and 2
    code, out, err = run_cli(*sweep, "--extractor", "identity,doubled")  # only the doubled space is new
    assert code == 0, err
    assert [(json.loads(line)["step"], json.loads(line)["extractor"]) for line in out.splitlines()] == [
        (0, "doubled"), (2, "doubled")]
    code, out, err = run_cli(*sweep, "--extractor", "doubled,identity")
    assert code == 0 and out == "" and "already scored" in err


def test_weights_name_their_extractor_where_it_is_not_plain(tmp_path):
    parser = cli.build_parser()

    def options(*argv):
        return arguments.extractor_config(parser.parse_args(["score", "x", "y", *argv])).options

    assert options("--extractor", "vgg16", "--weights", "w.pth") == {"vgg16": {"weights": "w.pth"}}
    assert options("--extractor", "vgg16,inception-v3-compat", "--weights", "vgg16=a=b.pth",
                   "--resize", "clean") == {"vgg16": {"weights": "a=b.pth"}, "inception-v3-compat": {"resize": "clean"}}
    assert options("--preset", "fd-dinov2", "--weights", "d.pth") == {"dinov2-vit-l-14": {"weights": "d.pth"}}
    for argv, message in ((("--weights", "w.pth"), "auto picks the extractor"),
                          (("--extractor", "vgg16,identity", "--weights", "w.pth"), "2 extractors are named"),
                          (("--extractor", "vgg16", "--weights", "a", "--weights", "b"), "already has a weights file")):
        with pytest.raises(InputError, match=message):
            options(*argv)


def test_options_for_an_extractor_outside_the_list_are_still_refused(run_cli, doubled_extractor):
    code, _, err = run_cli("score", "ring8", "ring8", "--extractor", "identity,doubled", "--weights",
                           "vgg16=w.pth", *QUIET)
    assert code == 2 and "options for vgg16 were given" in err


def test_extractor_lists_are_checked():
    for name, message in (("identity,,doubled", "empty name"), ("identity,identity", "named twice"),
                          ("auto,identity", "'auto' picks one")):
        with pytest.raises(InputError, match=message):
            ExtractorConfig(name)
    assert ExtractorConfig("a, b").names == ("a", "b")


def test_the_asked_extractor_is_part_of_a_sweep_key_and_old_records_read_auto():
    from ganeval.records import ScoreSettings, asked_extractor

    config = ScoreConfig(extractor=ExtractorConfig("inception-v3-compat", {"inception-v3-compat": {
        "weights": "w.pth", "resize": "clean"}}))
    assert asked_extractor(config) == "inception-v3-compat[resize=clean]"  # where the weights are is no part of it
    assert asked_extractor(ScoreConfig()) == "auto"
    parser = cli.build_parser()
    clean_auto = arguments.score_config(parser.parse_args(["score", "x", "y", "--resize", "clean"]))
    assert asked_extractor(clean_auto) == "auto[inception-v3-compat:resize=clean]"  # auto may pick Inception
    tf1_auto = arguments.score_config(parser.parse_args(["score", "x", "y", "--resize", "tf1"]))
    assert asked_extractor(tf1_auto) == "auto"  # the default, asked for: the same feature space
    listed = arguments.score_config(parser.parse_args(["score", "x", "y", "--extractor", "inception-v3-compat,vgg16",
                                                 "--resize", "clean"]))
    assert [asked_extractor(listed.for_extractor(name)) for name in listed.extractor.names] == [
        "inception-v3-compat[resize=clean]", "vgg16"]  # Inception's resize is no part of VGG16's space
    assert ScoreSettings("ring8", 1, preset="fid50k").key("a.pt") != ScoreSettings(
        "ring8", 1, preset="fid50k-full").key("a.pt")  # the same fields but for the reference cap
    assert ScoreSettings("ring8", 1).key("a.pt") != ScoreSettings("ring8", 1, extractor="vgg16").key("a.pt")
    assert ScoreSettings.from_json({"reference_argument": "ring8", "seed": 1}).extractor == "auto"


def test_a_list_with_a_cached_or_moments_reference_is_one_line(run_cli, tmp_path, doubled_extractor, rng):
    np.savez(tmp_path / "stats.npz", mu=np.zeros(2), sigma=np.eye(2))
    code, _, err = run_cli("score", "ring8", tmp_path / "stats.npz", "--extractor", "identity,doubled", "--metrics",
                           "fid", *QUIET)
    assert code == 2 and "statistics of one feature space" in err and len(err.strip().splitlines()) == 1


def test_a_failing_second_extractor_leaves_no_record(run_cli, tmp_path, doubled_extractor):
    from ganeval.errors import WeightsNotFoundError

    @features.register("unweighted")
    def create_unweighted(device) -> FeatureExtractor:
        raise WeightsNotFoundError("unweighted weights w.pth not found (looked at nowhere)")

    try:
        code, _, err = run_cli("train", "ring8-gan", *set_flags(*TINY_2D), "--set",
                               "eval_every=0", "--steps", "1", "--out", tmp_path / "run", "--quiet")
        assert code == 0, err
        checkpoint = sorted((tmp_path / "run" / "checkpoints").glob("*.pt"))[-1]
        code, out, err = run_cli("score", checkpoint, "ring8", "--extractor", "identity,unweighted", "--metrics",
                                 "fid", "--num-samples", "300", "--append", tmp_path / "other", *QUIET)
    finally:
        del _FACTORIES["unweighted"]
    assert code == 2 and "unweighted weights w.pth not found" in err and out == ""
    assert not (tmp_path / "run" / "metrics.jsonl").exists() and not (tmp_path / "other" / "metrics.jsonl").exists()


def test_trust_goes_to_each_torchscript_of_a_list_and_unknown_options_are_one_line(run_cli):
    parser = cli.build_parser()
    args = parser.parse_args(["score", "x", "y", "--extractor", "identity,torchscript:a.pt", "--trust-extractor"])
    assert arguments.extractor_config(args).options == {"torchscript:a.pt": {"trust": True}}
    code, _, err = run_cli("score", "ring8", "ring8", "--extractor", "identity", "--weights", "w.pth", *QUIET)
    assert code == 2 and "extractor identity has no option weights (it takes no options)" in err


def test_a_preset_cap_decodes_only_the_images_it_keeps(run_cli, tmp_path, monkeypatch):
    from PIL import Image

    import ganeval.data.files as files

    rng = np.random.default_rng(0)
    for folder, count in (("fake", 6), ("real", 12)):
        (tmp_path / folder).mkdir()
        for index in range(count):
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(tmp_path / folder / f"{index}.png")
    decoded = []
    original = files._load_images
    monkeypatch.setattr(files, "_load_images", lambda source, names, *rest: decoded.append(len(names)) or original(
        source, names, *rest))
    preset = register_preset(Preset("toy-images", "identity", ("fid",), 6, 5, "a test's protocol"))
    try:
        code, out, err = run_cli("score", tmp_path / "fake", tmp_path / "real", "--preset", "toy-images", "--json",
                                 *QUIET)
    finally:
        del PRESETS[preset.name]
    assert code == 0, err
    assert sorted(decoded) == [5, 6] and json.loads(out)["num_reference"] == 5
