"""The batches prepared ahead of the network (ganeval.features.prefetch): the same batches, in order, with the source's
errors raised where they occurred and no thread left behind."""
from __future__ import annotations

import functools
import threading

import pytest
import torch

from ganeval.data import Samples
from ganeval.features import create, extract, prefetch
from ganeval.features.extract import extract as extract_features


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
