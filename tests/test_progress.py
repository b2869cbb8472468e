"""The progress bar of each phase (decoding, generation, extraction): bars show where asked and never where not."""
from __future__ import annotations

import sys

import pytest

import ganeval
from ganeval import progress
from ganeval.data import load_source
from ganeval.data.checkpoint import CheckpointSource
from tests.test_checkpoint_source import dcgan_checkpoint  # noqa: F401 (a fixture)
from tests.test_decode_workers import write_pngs


@pytest.fixture
def bars(monkeypatch):
    """The bars opened, shown or not (tqdm instances)."""
    made = []

    class Recorded(progress.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            # a disabled bar keeps no description, and closing one disables it: keep what it was opened with
            self.label, self.shown = kwargs["desc"], not kwargs["disable"]
            made.append(self)

    monkeypatch.setattr(progress, "tqdm", Recorded)
    return made


@pytest.mark.parametrize("workers", [0, 2])
def test_decoding_shows_a_bar_with_images_per_second(tmp_path, capsys, bars, workers):
    folder = write_pngs(tmp_path / "pngs")
    with progress.showing(True):
        load_source(folder, workers=workers)
    assert f"decode {folder}" in capsys.readouterr().err
    assert [(bar.label, bar.n, bar.total, bar.unit) for bar in bars] == [(f"decode {folder}", 99, 99, "image")]
    with progress.showing(False):
        load_source(folder, workers=workers)
    assert capsys.readouterr().err == ""


def test_generation_shows_a_bar_only_where_asked(dcgan_checkpoint, capsys, bars):
    checkpoint = CheckpointSource(dcgan_checkpoint)
    with progress.showing(True):
        checkpoint.generate(300, seed=0)
    assert "generate" in capsys.readouterr().err
    assert [(bar.n, bar.total, bar.unit) for bar in bars] == [(300, 300, "sample")]
    with progress.showing(False):
        checkpoint.generate(300, seed=0)
    assert capsys.readouterr().err == ""


@pytest.mark.filterwarnings("ignore::ganeval.errors.FewSamplesWarning")
def test_a_score_shows_the_bar_of_every_phase_on_a_terminal_and_none_when_quiet(tmp_path, monkeypatch, capsys, bars):
    folder = write_pngs(tmp_path / "pngs")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # capsys's stream, seen as a terminal
    for asked in (None, False):
        bars.clear()
        ganeval.score(folder, folder, "fid", extractor="fmnist-classifier", progress=asked, use_cache=False)
        kinds = sorted(bar.label.split()[0] for bar in bars)
        assert kinds == ["decode", "decode", "features", "features"]  # input and reference, each decoded, extracted
        assert all(bar.shown is (asked is None) for bar in bars)


@pytest.mark.filterwarnings("ignore::ganeval.errors.FewSamplesWarning")
def test_quiet_silences_the_bars_of_a_command_outside_a_score(tmp_path, monkeypatch, capsys, bars):
    """`ref build` decodes outside a score: --quiet reaches its bars through the command line's `showing`."""
    from ganeval import cli

    folder = write_pngs(tmp_path / "pngs")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    for quiet in ([], ["--quiet"]):
        monkeypatch.setenv("GANEVAL_CACHE", str(tmp_path / f"cache{len(quiet)}"))  # built, not found, each time
        bars.clear()
        assert cli.main(["ref", "build", str(folder), "--extractor", "fmnist-classifier", *quiet]) == 0
        assert sorted(bar.label.split()[0] for bar in bars) == ["decode", "features"]
        assert all(bar.shown is not quiet for bar in bars)
