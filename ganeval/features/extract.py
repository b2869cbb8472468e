"""One pass of an extractor over a set of samples -> Features: streaming statistics of each layer a score reads;
under torchrun each process extracts its shard and the shards' statistics are merged (extract_shared)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data import Samples
from ..distributed import World, world
from ..errors import InputError
from ..progress import bar
from .prefetch import ahead
from .registry import FeatureExtractor
from .stats import FeatureStats


@dataclass(frozen=True)
class Features:
    """The embedding's statistics (rows kept where a metric needs them) and the class logits' (always with rows),
    where they were extracted."""

    embedding: FeatureStats
    logits: FeatureStats | None = None


class FeatureAccumulator:
    """The streaming statistics of one extractor's outputs, batch by batch: the embedding's (rows kept where a
    metric needs them) and the logits' (always with rows). `logits`: None (not extracted), 'required' (a missing
    logits output is an error) or 'optional' (dropped when the extractor returns none, as IS chosen by default is).
    extract() runs one over a sample set; ganeval.Evaluator.update feeds one the images a training loop gives."""

    def __init__(self, extractor: FeatureExtractor, *, keep_rows: bool, logits: str | None = None) -> None:
        self.extractor, self.logits = extractor, logits
        self.wanted = {"embedding": (extractor.feature_layer, FeatureStats(keep_raw=keep_rows))}
        if logits and extractor.logits_layer:
            self.wanted["logits"] = (extractor.logits_layer, FeatureStats(keep_raw=True))

    def add(self, batch: torch.Tensor) -> None:
        """Extract one batch (uint8 images or float points, on the extractor's device) and add its outputs."""
        outputs = self.extractor(batch)
        if self.logits == "optional" and "logits" in self.wanted and self.wanted["logits"][0] not in outputs:
            del self.wanted["logits"]
        for layer, stats in self.wanted.values():
            if layer not in outputs:
                raise InputError(f"extractor '{self.extractor.name}' returned no '{layer}' output")
            stats.update(outputs[layer].reshape(outputs[layer].shape[0], -1))

    @property
    def count(self) -> int:
        """How many samples were added."""
        return self.wanted["embedding"][1].num_samples

    def features(self) -> Features:
        return Features(**{name: stats for name, (_, stats) in self.wanted.items()})


def extract(samples: Samples, extractor: FeatureExtractor, *, keep_rows: bool, logits: str | None = None,
            batch_size: int, progress: bool | None, rows: range | None = None) -> Features:
    """One pass over `samples` (or over its contiguous `rows`: a shard); `logits` as FeatureAccumulator takes it."""
    accumulator = FeatureAccumulator(extractor, keep_rows=keep_rows, logits=logits)
    total = len(samples) if rows is None else len(rows)
    with bar(total, f"features {samples.name}", unit="sample", progress=progress) as shown:
        for batch in ahead(samples.batches(batch_size, rows), extractor.device):
            accumulator.add(batch)
            shown.update(len(batch))
    return accumulator.features()


def extract_shared(samples: Samples, extractor: FeatureExtractor, *, keep_rows: bool, logits: str | None = None,
                   batch_size: int, progress: bool | None) -> Features:
    """extract() over this process's shard of `samples`, then the whole set's Features on every rank (in one
    process, extract()). Shards are whole batches, the single process's batches: an extractor's float32 output can
    depend on its batch's size, and so every feature row is bit for bit the one a single process computes."""
    processes = world()
    shard = processes.shard(len(samples), unit=batch_size) if processes.distributed else None
    features = extract(samples, extractor, keep_rows=keep_rows, logits=logits, batch_size=batch_size,
                       progress=progress if processes.is_main else False, rows=shard)
    return gather_features(processes, features, extractor.device)


def gather_features(processes: World, features: Features, device: torch.device) -> Features:
    """Features of the whole sample set, on `device`, from each rank's Features of its shard: merged in rank order
    (rows concatenated in that order), in one exchange. Optional logits count where every rank that saw samples
    has them (a rank with an empty shard, more ranks than batches, cannot tell)."""
    if not processes.distributed:
        return features
    shards = processes.gather({"embedding": _portable(features.embedding),
                               "logits": None if features.logits is None else _portable(features.logits)})
    seen = [shard for shard in shards if shard["embedding"]["num_samples"]]
    embedding = _merged([shard["embedding"] for shard in seen], features.embedding.keep_raw, device)
    if any(shard["logits"] is None for shard in seen):
        return Features(embedding)
    return Features(embedding, _merged([shard["logits"] for shard in seen], True, device))


def _portable(stats: FeatureStats) -> dict:
    """A shard's statistics as CPU tensors and plain values (what all_gather_object pickles, on any backend)."""
    state = {key: value.cpu() if isinstance(value, torch.Tensor) else value for key, value in stats.state_dict().items()}
    state["rows"] = stats.raw().cpu() if stats.keep_raw and stats.num_samples else None
    return state


def _merged(states: list[dict], keep_rows: bool, device: torch.device) -> FeatureStats:
    merged = FeatureStats(keep_raw=keep_rows, device=device)
    for state in states:
        merged.merge(_restored(state, device))
    return merged


def _restored(state: dict, device: torch.device | None) -> FeatureStats:
    """A shard's statistics back on `device`."""
    moved = {key: value.to(device) if isinstance(value, torch.Tensor) else value for key, value in state.items()}
    rows = moved.pop("rows")
    return FeatureStats.from_state_dict(moved, rows)
