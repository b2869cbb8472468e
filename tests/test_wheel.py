"""A normal (non-editable) install works from any folder: the wheel carries the weights, configs and demo gate.

The wheel is built from a copy of the sources (the checkout gets no build/ folder) and installed without
dependencies into a fresh venv whose .pth line points at the dev venv's site-packages, so torch is not installed
again. A plain path line does not run the dev venv's __editable__ hook, so the checkout stays unimportable there.
Training runs with --no-eval: scoring its checkpoints against a fresh cache extracts all 60,000 training images
(about 50 s on two cores), which the score test already covers on a 500-sample subset.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from setuptools import find_packages

from ganeval.data import fashion_mnist
from ganeval.errors import WeightsNotFoundError
from ganeval.features import classifier, create
from ganeval.train.config import tomllib  # tomli on Python 3.10

from .conftest import needs_fmnist

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "ganeval", "models")


def test_pyproject_lists_every_package():
    """The models/ mapping needs an explicit package list; a new subpackage of ganeval/ must join it."""
    listed = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    found = find_packages(str(REPO), include=["ganeval", "ganeval.*"])
    assert sorted(set(listed) - {"ganeval.models", "ganeval.models.configs"}) == sorted(found)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """A fresh venv with the wheel installed; returns its bin folder, a working folder and the environment."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / name, source / name)
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
          "--wheel-dir", str(root / "dist"), str(source)], cwd=root)
    wheel = next((root / "dist").glob("ganeval-*.whl"))
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=root)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index",
          str(wheel)], cwd=root)
    site_packages = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                              cwd=root).stdout.strip())
    dependencies = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (site_packages / "ganeval-dev-dependencies.pth").write_text("".join(f"{path}\n" for path in dependencies))
    work = root / "work"
    work.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "GANEVAL_FMNIST_CLASSIFIER")}
    # A fresh cache, as in conftest.py (never the user's): the score test extracts the 60,000 training images once,
    # about 45 s on one core, as a new user's first score does.
    env["GANEVAL_CACHE"] = str(root / "cache")
    return {"bin": venv / "bin", "venv": venv, "work": work, "env": env}


def _run(command: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slow
def test_wheel_holds_the_shipped_files(installed):
    script = ("import ganeval, ganeval.demo as demo, ganeval.features.classifier as c, ganeval.train.config as t\n"
              "print(ganeval.__file__); print(c.SHIPPED_WEIGHTS); print(t.CONFIG_DIR); print(demo.GATE_FILE)\n"
              "assert c.SHIPPED_WEIGHTS.is_file() and (c.SHIPPED_WEIGHTS.parent / 'card.json').is_file()\n"
              "assert (t.CONFIG_DIR / 'fmnist-dcgan.toml').is_file() and demo.GATE_FILE.is_file()\n"
              "demo.read_limits(demo.GATE_FILE)\n")
    printed = _run([str(installed["bin"] / "python"), "-c", script], installed["work"], installed["env"]).stdout
    for line in printed.splitlines():  # the installed package, not the checkout through the dev venv
        assert Path(line).resolve().is_relative_to(installed["venv"].resolve()), printed


@pytest.mark.slow
def test_wheel_train_from_any_folder(installed):
    config = "fmnist-dcgan" if fashion_mnist.find_folder("train") else "ring8-gan"  # ring8: data drawn in memory
    out = installed["work"] / "run"
    _run([str(installed["bin"] / "ganeval"), "train", config, "--steps", "2", "--no-eval", "--quiet",
          "--out", str(out)], installed["work"], installed["env"])
    assert sorted(path.name for path in (out / "checkpoints").glob("step-*.pt")) == ["step-0000000.pt", "step-0000002.pt"]


@pytest.mark.slow
def test_wheel_demo_from_any_folder(installed):
    """The demo's path (configs, training, scoring, report, the shipped gate) on one tiny run: `ganeval demo` itself
    trains for minutes."""
    script = ("from pathlib import Path\nfrom ganeval import demo\n"
              "demo.run(Path('runs'), Path('report'), fashion=False, progress=False,\n"
              "         runs={'grid25-gan': ['steps=4', 'checkpoint_every=2', 'eval_samples=200']})\n")
    printed = _run([str(installed["bin"] / "python"), "-c", script], installed["work"], installed["env"]).stdout
    assert "gate with the limits of models/demo-gate.toml" in printed and "grid25-gan step 4" in printed, printed
    assert (installed["work"] / "report" / "index.html").is_file()


@pytest.mark.slow
def test_wheel_unknown_config_lists_the_shipped_ones(installed):
    result = subprocess.run([str(installed["bin"] / "ganeval"), "train", "no-such-config"], cwd=installed["work"],
                            env=installed["env"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "fmnist-dcgan" in result.stderr and "ring8-gan" in result.stderr, result.stderr


@pytest.mark.slow
@needs_fmnist
def test_wheel_score_from_any_folder(installed):
    # a subset of the reference: the installed package and its shipped classifier are the point, not the 60,000
    # training images (their extraction and k-NN radii took 50 s)
    result = _run([str(installed["bin"] / "ganeval"), "score", "fashion-mnist:test", "--reference",
                   "fashion-mnist:train", "--num-samples", "500", "--reference-samples", "1000", "--quiet", "--json"],
                  installed["work"], installed["env"])
    assert '"fid"' in result.stdout and '"fmnist-classifier"' in result.stdout, result.stdout


def test_missing_shipped_weights_name_the_file_and_the_remedy(tmp_path, monkeypatch):
    monkeypatch.delenv(classifier.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(classifier, "SHIPPED_WEIGHTS", tmp_path / "weights.pt")
    with pytest.raises(WeightsNotFoundError) as error:
        classifier.resolve_weights()
    message = str(error.value)
    assert f"looked for {tmp_path / 'weights.pt'}" in message and "shipped inside the ganeval package" in message
    assert f"${classifier.WEIGHTS_ENV} to a weights file" in message  # the variable only with what it means


def test_missing_weights_from_the_environment_say_where_the_path_came_from(tmp_path, monkeypatch):
    monkeypatch.setenv(classifier.WEIGHTS_ENV, str(tmp_path / "mine.pt"))
    with pytest.raises(WeightsNotFoundError, match=r"looked for .*mine\.pt \(named by \$GANEVAL_FMNIST_CLASSIFIER, "
                                                   r"which replaces the shipped weights"):
        create("fmnist-classifier", device="cpu")
