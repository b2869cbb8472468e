"""The progress bar of each phase (decoding, generation, extraction) and the batches prepared ahead of the network:
bars show where asked and never where not; prefetched batches are the same batches, in order, with the source's
errors raised where they occurred and no thread left behind."""
from __future__ import annotations

import functools
import sys
import threading

import pytest
import torch

import ganeval
from ganeval import progress
from ganeval.data import Samples, load_source
from ganeval.data.checkpoint import CheckpointSource
from ganeval.features import create, extract, prefetch
from ganeval.features.extract import extract as extract_features
from tests.test_checkpoint_source import dcgan_checkpoint  # noqa: F401 (a fixture)
from tests.test_decode_workers import write_pngs


def _threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "ganeval-prefetch"]


def test_prefetched_batches_are_the_batches_in_order():
    batches = [torch.full((3, 2), float(index)) for index in range(7)]
    got = list(prefetch.ahead(iter(batches), "cpu", threaded=True))
    assert len(got) == 7 and all(torch.equal(a, b) for a, b in zip(got, batches))
    assert _threads() == []


def test_a_cpu_device_passes_batches_through_without_a_thread():
    batches = [torch.zeros(2, 2)]
    assert prefetch.ahead(batches, "cpu").__next__() is batches[0]
    assert _threads() == []


def test_an_error_of_the_source_is_raised_after_the_batches_before_it():
    def source():
        yield torch.zeros(1)
        yield torch.ones(1)
        raise ValueError("image 3 is corrupt")

    got = []
    with pytest.raises(ValueError, match="image 3 is corrupt"):
        for batch in prefetch.ahead(source(), "cpu", threaded=True):
            got.append(batch)
    assert len(got) == 2 and _threads() == []


def test_leaving_early_stops_the_thread():
    produced = []

    def endless():
        while True:
            produced.append(1)
            yield torch.zeros(1)

    batches = prefetch.ahead(endless(), "cpu", threaded=True, depth=2)
    next(batches)
    batches.close()  # what a `for` loop broken by an exception does
    assert _threads() == []
    assert len(produced) <= 5  # the thread stopped at a full queue, it did not run on


def test_extraction_with_prefetching_gives_the_same_features_bit_for_bit(monkeypatch):
    images = torch.randint(0, 256, (150, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    samples = Samples(images, "random")
    extractor = create("fmnist-classifier")
    plain = extract_features(samples, extractor, keep_rows=True, logits="optional", batch_size=64, progress=False)
    monkeypatch.setattr(extract, "ahead", functools.partial(prefetch.ahead, threaded=True))
    ahead = extract_features(samples, extractor, keep_rows=True, logits="optional", batch_size=64, progress=False)
    assert torch.equal(plain.embedding.raw(), ahead.embedding.raw())
    assert torch.equal(plain.embedding.outer_sum, ahead.embedding.outer_sum)
    assert torch.equal(plain.logits.raw(), ahead.logits.raw())


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
