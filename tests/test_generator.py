"""A user's own generator as a source: samples that depend only on (seed, i), the output conventions and their
checks, ganeval.score(module), and `ganeval score MODEL` for python: factories, ONNX and TorchScript files."""
from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pytest
import torch

import ganeval
from ganeval import features
from ganeval.data import Samples
from ganeval.data.files import save_samples
from ganeval.data.generator import GeneratorSource, LabelSpec, LatentSpec, labels_at, latents_at
from ganeval.errors import InputError
from ganeval.nets.dcgan import DCGANConfig, DCGANGenerator

from .test_inception import inception_weights  # noqa: F401  (the calibrated Inception fixture)

QUIET = {"progress": False, "use_cache": False}
FACTORY = '''
import torch
from ganeval.nets.dcgan import DCGANConfig, DCGANGenerator

def load(checkpoint):
    generator = DCGANGenerator(DCGANConfig(latent_dim=16))
    generator.load_state_dict(torch.load(checkpoint, weights_only=True))
    return generator

def broken():
    raise ValueError("no weights here")

def not_a_generator():
    return 42
'''


@pytest.fixture(scope="module")
def network(dcgan_network):
    """conftest's DCGAN generator, in eval mode."""
    return dcgan_network.eval()


@pytest.fixture
def factory(tmp_path, network, monkeypatch):
    """A folder holding mygen.py (python:mygen:load) and the network's weights, as the current folder."""
    (tmp_path / "mygen.py").write_text(FACTORY)
    torch.save(network.state_dict(), tmp_path / "G.pt")
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    sys.modules.pop("mygen", None)


def source(network, batch_size: int = 500, **keywords) -> GeneratorSource:
    return GeneratorSource(network, LatentSpec(16, keywords.pop("kind", "normal")), batch_size=batch_size, **keywords)


# --- samples that depend only on (seed, i) -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["normal", "uniform", "sobol"])
def test_a_latent_depends_only_on_the_seed_and_its_index(kind):
    spec = LatentSpec(8, kind)
    whole = latents_at(range(3000), spec, seed=5)
    assert torch.equal(latents_at(range(1000, 2100), spec, seed=5), whole[1000:2100])  # any block, any shard
    assert torch.equal(latents_at(range(10), spec, seed=5), whole[:10])  # a prefix of a longer draw
    assert not torch.equal(latents_at(range(10), spec, seed=6), whole[:10])
    low, high = float(whole.min()), float(whole.max())
    assert (-1 <= low and high <= 1) if kind == "uniform" else (low < -3 and high > 3)


def test_labels_depend_only_on_the_seed_and_their_index():
    uniform = LabelSpec("uniform", 10)
    whole = labels_at(range(2000), uniform, seed=1)
    assert torch.equal(labels_at(range(700, 1500), uniform, seed=1), whole[700:1500])
    assert set(whole.tolist()) == set(range(10))
    skewed = labels_at(range(4000), LabelSpec("data", weights=(3.0, 1.0)), seed=1)
    assert 0.7 < float((skewed == 0).double().mean()) < 0.8  # the histogram's 3:1
    assert labels_at(range(2, 4), LabelSpec("file", values=(4, 5, 6, 7)), seed=0).tolist() == [6, 7]


def test_batch_sizes_one_seven_and_sixty_four_give_the_same_samples(network):
    samples = [source(network, batch_size=size).generate(70, seed=3) for size in (1, 7, 64)]
    assert samples[0].dtype == torch.uint8 and samples[0].shape == (70, 1, 28, 28)
    assert torch.equal(samples[0], samples[1]) and torch.equal(samples[0], samples[2])
    assert torch.equal(source(network).generate(30, seed=3), samples[0][:30])  # N samples: the first N of more
    assert torch.equal(source(network).generate(70, seed=3, rows=range(40, 70)), samples[0][40:])  # a shard


def test_labels_reach_the_generator_positionally_or_by_keyword():
    seen = []

    def conditional(latents, labels=None, *, truncation_psi=1.0, classes=None):
        seen.append((labels if classes is None else classes, truncation_psi))
        return torch.tanh(latents[:, :2])

    GeneratorSource(conditional, LatentSpec(4), LabelSpec("uniform", 3), {"truncation_psi": 0.7}).generate(5, 0)
    GeneratorSource(conditional, LatentSpec(4), LabelSpec("uniform", 3, argument="classes")).generate(5, 0)
    assert torch.equal(seen[0][0], seen[1][0]) and seen[0][1] == 0.7 and seen[1][1] == 1.0


@pytest.mark.parametrize("output_range, scale", [("-1,1", lambda x: x), ("0,1", lambda x: (x + 1) / 2),
                                                 ("uint8", lambda x: ((x + 1) * 127.5).round())])
def test_each_output_range_gives_the_same_uint8_images(network, output_range, scale):
    reference = source(network).generate(20, seed=0)
    converted = GeneratorSource(lambda z: scale(network(z)), LatentSpec(16), output_range=output_range)
    assert torch.equal(converted.generate(20, seed=0), reference)


# --- ganeval.score(module) -------------------------------------------------------------------------------------

def test_a_module_scores_as_the_same_images_written_as_pngs(network, tmp_path):
    reference = np.random.default_rng(0).integers(0, 256, (300, 1, 28, 28), dtype=np.uint8)
    np.save(tmp_path / "real.npy", reference)
    generated = source(network).generate(300, seed=ganeval.ScoreConfig().seed)
    save_samples(generated, tmp_path / "fake")
    settings = {"extractor": "fmnist-classifier", **QUIET}
    from_module = ganeval.score(network, str(tmp_path / "real.npy"), "fid,is,kid,prdc", num_samples=300,
                                latent_dim=16, **settings)
    from_folder = ganeval.score(str(tmp_path / "fake"), str(tmp_path / "real.npy"), "fid,is,kid,prdc", **settings)
    keys = ("fid", "is_mean", "is_std", "kid_mean", "kid_std", "precision", "recall", "density", "coverage")
    assert [from_module[key] for key in keys] == [from_folder[key] for key in keys]
    assert from_module["num_samples"] == 300 and from_module["input"] == "DCGANGenerator"
    assert from_module["provenance"]["generator"] == {"generator": "DCGANGenerator", "latent_dim": 16,
                                                      "latent_kind": "normal", "output_range": "-1,1"}


def test_generated_images_reach_the_extractor_as_torch_fidelity_sees_them(inception_weights):
    """Inception features of a generator's images equal torch-fidelity's extractor on the same uint8 images."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    torch.manual_seed(1)
    colour = DCGANGenerator(DCGANConfig(image_size=32, channels=3, latent_dim=16)).eval()
    images = GeneratorSource(colour, LatentSpec(16)).generate(6, seed=0)
    ours = features.create("inception-v3-compat", device="cpu", weights=inception_weights)(images)["pool"]
    theirs = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                         feature_extractor_weights_path=inception_weights).eval()
    with torch.no_grad():
        expected = theirs(images)[0]
    assert ours.std(0).mean() > 1e-3 and torch.allclose(ours.double(), expected.double(), rtol=0, atol=1e-6)


def test_labels_drawn_from_the_reference_histogram(tmp_path):
    seen = []

    def conditional(latents, labels):
        seen.append(labels)
        return torch.tanh(latents[:, :2])

    points = torch.randn(400, 2)
    real = Samples(points.double(), "labelled", labels=torch.tensor([0] * 300 + [1] * 100))
    ganeval.score(conditional, real, "fid", num_samples=2000, latent_dim=4, labels="data", **QUIET)
    drawn = torch.cat(seen)
    assert len(drawn) == 2000 and 0.7 < float((drawn == 0).double().mean()) < 0.8
    with pytest.raises(InputError, match="no class labels to draw from"):
        ganeval.score(conditional, "ring8", "fid", num_samples=100, latent_dim=4, labels="data", **QUIET)


# --- bad generators ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("generator, output_range, message", [
    (lambda z: torch.zeros(len(z), 5, 8, 8), "-1,1", r"shape \(\d+, 5, 8, 8\); images must be N x C x H x W"),
    (lambda z: torch.zeros(3, 1, 8, 8), "-1,1", r"shape \(3, 1, 8, 8\) for a batch of \d+"),
    (lambda z: torch.full((len(z), 1, 8, 8), float("nan")), "-1,1", "NaN or infinite values"),
    (lambda z: torch.full((len(z), 1, 8, 8), 200.0), "-1,1", r"outside the declared output range -1,1; it looks "
                                                               r"like uint8"),
    (lambda z: torch.zeros(len(z), 1, 8, 8, dtype=torch.uint8), "-1,1", "uint8 images, but the output range is -1,1"),
    (lambda z: "images", "-1,1", "returned str, not a tensor of images"),
])
def test_a_bad_generator_is_one_line_naming_it(generator, output_range, message, tmp_path):
    with pytest.raises(InputError, match=message) as error:
        ganeval.score(generator, "ring8", "fid", num_samples=50, latent_dim=4, output_range=output_range, **QUIET)
    assert "\n" not in str(error.value) and "<lambda>" in str(error.value)


def test_generator_settings_are_checked_before_generating():
    with pytest.raises(InputError, match="a generator needs latent_dim"):
        ganeval.score(lambda z: z, "ring8", "fid", num_samples=50, **QUIET)
    with pytest.raises(InputError, match="--num-classes"):
        ganeval.score(lambda z, y: z, "ring8", "fid", num_samples=50, latent_dim=2, labels="uniform", **QUIET)
    with pytest.raises(InputError, match="--num-samples N"):
        ganeval.score(lambda z: z, "ring8", "fid", latent_dim=2, **QUIET)
    with pytest.raises(TypeError, match="not a generator"):
        ganeval.score("ring8", "ring8", "fid", latent_dim=2, **QUIET)


# --- the command line ----------------------------------------------------------------------------------------

def test_a_python_factory_scores_from_the_command_line(factory, network, run_cli):
    reference = np.random.default_rng(0).integers(0, 256, (200, 1, 28, 28), dtype=np.uint8)
    np.save(factory / "real.npy", reference)
    code, out, err = run_cli("score", "python:mygen:load", "real.npy", "--latent-dim", "16", "--num-samples", "200",
                             "--extractor", "fmnist-classifier",
                             "--generator-arg", "checkpoint=G.pt", "--metrics", "fid,kid", "--quiet", "--json",
                             "--append", factory / "mine")
    assert code == 0, err
    record = json.loads(out)
    expected = ganeval.score(network, str(factory / "real.npy"), "fid,kid", num_samples=200, latent_dim=16, extractor="fmnist-classifier", **QUIET)
    assert record["fid"] == expected["fid"] and record["kid_mean"] == expected["kid_mean"]
    assert record["input"] == "python:mygen:load(checkpoint=G.pt)" and len(record["provenance"]["generator"]["sha256"]) == 64
    assert ganeval.load_records(factory / "mine")["value"].notna().all()


@pytest.mark.parametrize("argv, message", [
    (["python:mygen:broken"], "python:mygen:broken: the factory raised ValueError: no weights here"),
    (["python:mygen:not_a_generator"], "the factory returned int, not a generator"),
    (["python:nowhere:load"], "cannot import nowhere"),
    (["python:mygen:missing"], "module mygen has no function missing"),
    (["python:mygen"], "give python:PACKAGE.MODULE:FUNCTION"),
    (["python:mygen:load", "--generator-arg", "checkpoint"], "--generator-arg checkpoint: give KEY=VALUE"),
])
def test_bad_factories_are_one_line_and_exit_2(factory, run_cli, argv, message):
    code, _, err = run_cli("score", argv[0], "ring8", *argv[1:], "--latent-dim", "16", "--num-samples", "50", "--quiet",
                           "--append", factory / "mine")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (factory / "mine" / "metrics.jsonl").exists()  # nothing appended


def test_generator_flags_for_another_input_are_refused(run_cli):
    code, _, err = run_cli("score", "ring8", "ring8", "--latent-dim", "16", "--output-range", "0,1")
    assert code == 2 and "--latent-dim, --output-range: for a generator of your own" in err


def test_an_onnx_export_scores_as_the_module_it_was_exported_from(network, tmp_path, run_cli):
    """torch.onnx.export of a generator, run by onnxruntime from the command line, against the same generator
    through the python: path's GeneratorSource: the same latents, FID within 1e-6 relative."""
    pytest.importorskip("onnxruntime")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(network, (torch.randn(2, 16),), str(tmp_path / "g.onnx"), input_names=["z"],
                          output_names=["images"], dynamic_axes={"z": {0: "batch"}, "images": {0: "batch"}},
                          dynamo=False)
    np.save(tmp_path / "real.npy", np.random.default_rng(0).integers(0, 256, (200, 1, 28, 28), dtype=np.uint8))
    code, out, err = run_cli("score", tmp_path / "g.onnx", tmp_path / "real.npy", "--latent-dim", "16",
                             "--num-samples", "200", "--extractor", "fmnist-classifier", "--metrics", "fid", "--quiet",
                             "--json")
    assert code == 0, err
    expected = ganeval.score(network, str(tmp_path / "real.npy"), "fid", num_samples=200, latent_dim=16, extractor="fmnist-classifier", **QUIET)
    assert json.loads(out)["fid"] == pytest.approx(expected["fid"], rel=1e-6)


def external_tensor(location: str):
    """A one-value ONNX tensor whose data lies in an external file at `location`."""
    from onnx import TensorProto, helper

    weights = helper.make_tensor("w", TensorProto.FLOAT, [1], [1.0])
    weights.data_location = TensorProto.EXTERNAL
    del weights.float_data[:]
    weights.external_data.add(key="location", value=location)
    return weights


def test_an_onnx_file_reading_data_outside_its_folder_is_refused(tmp_path, run_cli):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    weights = external_tensor("../../outside.bin")
    graph = helper.make_graph([helper.make_node("Mul", ["z", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, [None, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])], [weights])
    (tmp_path / "models").mkdir()
    onnx.save_model(helper.make_model(graph), str(tmp_path / "models" / "g.onnx"))
    code, _, err = run_cli("score", tmp_path / "models" / "g.onnx", "ring8", "--latent-dim", "2",
                           "--num-samples", "50", "--quiet")
    assert code == 2 and "outside the model's folder" in err and len(err.strip().splitlines()) == 1, err


def test_a_torchscript_generator_loads_only_when_trusted(network, tmp_path, run_cli):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.trace(network, torch.randn(2, 16)).save(str(tmp_path / "g.pt"))
    np.save(tmp_path / "real.npy", np.random.default_rng(0).integers(0, 256, (200, 1, 28, 28), dtype=np.uint8))
    argv = ["score", tmp_path / "g.pt", tmp_path / "real.npy", "--latent-dim", "16", "--num-samples", "200",
            "--extractor", "fmnist-classifier", "--metrics", "fid", "--quiet", "--json"]
    code, _, err = run_cli(*argv)
    assert code == 2 and "a program that runs with your permissions" in err and "--trust-generator" in err
    code, out, err = run_cli(*argv, "--trust-generator")
    assert code == 0, err
    expected = ganeval.score(network, str(tmp_path / "real.npy"), "fid", num_samples=200, latent_dim=16, extractor="fmnist-classifier", **QUIET)
    assert json.loads(out)["fid"] == pytest.approx(expected["fid"], rel=1e-6)


def test_a_factory_scores_each_checkpoint_file_into_a_run_once(factory, network, run_cli):
    (factory / "ckpts").mkdir()
    for step, scale in ((100, 1.0), (20, 0.5)):
        state = {key: value * scale if value.is_floating_point() else value
                 for key, value in network.state_dict().items()}
        torch.save(state, factory / "ckpts" / f"G_{step:06d}.pt")
    np.save(factory / "real.npy", np.random.default_rng(0).integers(0, 256, (200, 1, 28, 28), dtype=np.uint8))
    argv = ["score", "python:mygen:load", "real.npy", "--latent-dim", "16", "--num-samples", "200", "--extractor",
            "fmnist-classifier", "--metrics", "fid", "--generator-arg", "checkpoint={}", "--checkpoints", "ckpts/*.pt",
            "--append", "mine", "--quiet", "--json"]
    code, out, err = run_cli(*argv)
    assert code == 0, err
    printed = [json.loads(line) for line in out.splitlines()]
    assert [(record["step"], record["checkpoint"]) for record in printed] == [(20, "G_000020.pt"), (100, "G_000100.pt")]
    assert printed[0]["fid"] != printed[1]["fid"] and printed[0]["input"].endswith("(checkpoint=ckpts/G_000020.pt)")
    code, out, err = run_cli(*argv)  # scored alike already: nothing to do
    assert code == 0 and out == "" and "every file is already scored with these settings" in err
    torch.save(network.state_dict(), factory / "ckpts" / "G_000300.pt")
    code, out, err = run_cli(*argv)
    assert code == 0 and [json.loads(line)["step"] for line in out.splitlines()] == [300]
    code, out, err = run_cli("gate", "mine", "--max", "fid=100000")  # the user's run, as ganeval's own
    assert code == 0 and "step 300" in out, err
    code, _, err = run_cli(*argv[:-4], "--quiet")  # no --append: nowhere for the records
    assert code == 2 and "give --append RUN" in err


def test_the_files_of_another_generator_setting_are_scored_again(factory, network, run_cli):
    """The skip key holds the generator as asked: another latent kind (or argument, labels, range) scores anew."""
    (factory / "ckpts").mkdir()
    torch.save(network.state_dict(), factory / "ckpts" / "G_000010.pt")
    (factory / "ckpts" / "notes.txt").write_text("a folder's files without a step number are left out")
    np.save(factory / "real.npy", np.random.default_rng(0).integers(0, 256, (200, 1, 28, 28), dtype=np.uint8))
    argv = ["score", "python:mygen:load", "real.npy", "--latent-dim", "16", "--num-samples", "200", "--extractor",
            "fmnist-classifier", "--metrics", "fid", "--generator-arg", "checkpoint={}", "--checkpoints", "ckpts",
            "--append", "mine", "--quiet", "--json"]
    first = run_cli(*argv)
    again = run_cli(*argv, "--latent-kind", "sobol")
    assert first[0] == again[0] == 0 and len(first[1].splitlines()) == len(again[1].splitlines()) == 1
    assert json.loads(first[1])["requested_generator"].endswith("latents normal 16, labels none, output -1,1")
    assert json.loads(first[1])["fid"] != json.loads(again[1])["fid"]
    assert run_cli(*argv, "--latent-kind", "sobol")[1] == ""  # and that setting is now scored


@pytest.mark.parametrize("argv, message", [
    (["ring8", "ring8", "--ema", "--latent-dim", "2"], "--latent-dim: for a generator of your own"),
    (["python:mygen:load", "ring8", "--latent-dim", "16", "--generator-arg", "checkpoint={}"],
     "{} stands for each file of --checkpoints"),
    (["python:mygen:load", "ring8", "--latent-dim", "16", "--num-classes", "3"],
     "--num-classes and --label-arg describe the labels"),
])
def test_generator_flags_that_would_be_ignored_are_refused(factory, run_cli, argv, message):
    code, _, err = run_cli("score", *argv, "--num-samples", "50", "--quiet")
    assert code == 2 and message in err, err


def test_a_run_folder_input_refuses_generator_flags(run_cli, tmp_path):
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    code, _, err = run_cli("score", tmp_path / "run", "ring8", "--checkpoints", "x/*.pt")
    assert code == 2 and "--checkpoints: for a generator of your own" in err


def test_integer_images_are_clamped_and_dark_floats_are_not_taken_for_uint8():
    saturated = GeneratorSource(lambda z: torch.full((len(z), 1, 4, 4), 256, dtype=torch.int32), LatentSpec(2),
                                output_range="uint8")
    assert saturated.generate(3, seed=0).unique().tolist() == [255]  # 256 clamps to 255, never wraps to 0
    dark = GeneratorSource(lambda z: torch.rand(len(z), 1, 4, 4), LatentSpec(2), output_range="uint8")
    with pytest.raises(InputError, match="images this dark are a range of -1,1 or 0,1"):
        dark.generate(3, seed=0)


def test_labels_given_as_an_array_and_the_import_path_left_as_it_was(factory):
    assert LabelSpec.of(np.array([1, 0, 1])).values == (1, 0, 1)
    path = list(sys.path)
    from ganeval.data.generator_files import load_generator

    load_generator("python:mygen:load", arguments={"checkpoint": "G.pt"}, trust=False, device=torch.device("cpu"))
    assert sys.path == path  # the current folder was importable for the factory's import only


def test_external_data_inside_a_subgraph_is_checked_too(tmp_path, run_cli):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    weights = external_tensor("/etc/passwd")
    branch = helper.make_graph([helper.make_node("Constant", [], ["y"], value=weights)], "branch", [],
                               [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    graph = helper.make_graph([helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=branch)], "g",
                              [helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save_model(helper.make_model(graph), str(tmp_path / "g.onnx"))
    code, _, err = run_cli("score", tmp_path / "g.onnx", "ring8", "--latent-dim", "2", "--num-samples", "50",
                           "--quiet")
    assert code == 2 and "reads external data from /etc/passwd, outside the model's folder" in err, err


CHECKPOINT_FACTORY = '''
from ganeval.data.checkpoint import generator_from_checkpoint, load_checkpoint

def load(checkpoint):
    return generator_from_checkpoint(load_checkpoint(checkpoint))[0]
'''


def test_a_ganeval_checkpoint_exported_to_onnx_and_loaded_by_a_factory_scores_alike(tmp_path, run_cli, monkeypatch):
    """A ganeval checkpoint's generator, on the same latents three ways: exported with torch.onnx.export and run
    by onnxruntime, loaded by a python: factory, and in Python (FID within 1e-6 relative)."""
    pytest.importorskip("onnxruntime")
    from ganeval.data.checkpoint import generator_from_checkpoint, load_checkpoint
    from ganeval.nets.build import latent_dim
    from ganeval.train.config import load_config
    from ganeval.train.loop import train

    from .conftest import TINY_2D

    train(load_config("ring8-gan", [*TINY_2D, "steps=2", "checkpoint_every=2", "eval_every=0"]), tmp_path / "run",
          progress=False)
    checkpoint = tmp_path / "run" / "checkpoints" / "step-0000002.pt"
    network, config = generator_from_checkpoint(load_checkpoint(checkpoint))
    dim = latent_dim(config.model, config.model_options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(network, (torch.randn(4, dim),), str(tmp_path / "g.onnx"), input_names=["z"],
                          output_names=["points"], dynamic_axes={"z": {0: "batch"}, "points": {0: "batch"}},
                          dynamo=False)
    (tmp_path / "ckptgen.py").write_text(CHECKPOINT_FACTORY)
    monkeypatch.chdir(tmp_path)
    expected = ganeval.score(network, "ring8", "fid", num_samples=1000, latent_dim=dim, **QUIET)["fid"]
    common = ["ring8", "--latent-dim", str(dim), "--num-samples", "1000", "--metrics", "fid", "--no-cache", "--quiet",
              "--json"]
    for argv in (["g.onnx"], ["python:ckptgen:load", "--generator-arg", f"checkpoint={checkpoint}"]):
        code, out, err = run_cli("score", argv[0], *common, *argv[1:])
        assert code == 0, err
        assert json.loads(out)["fid"] == pytest.approx(expected, rel=1e-6)
    sys.modules.pop("ckptgen", None)
