"""One pass of an extractor over a set of samples -> Features: streaming statistics of each layer a score reads."""
from __future__ import annotations

from dataclasses import dataclass

from ..data import Samples
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


def extract(samples: Samples, extractor: FeatureExtractor, *, keep_rows: bool, logits: str | None = None,
            batch_size: int, progress: bool | None, rows: range | None = None) -> Features:
    """One pass over `samples` (or over its contiguous `rows`: a shard). `logits`: None (not extracted), 'required'
    (a missing logits output is an error) or 'optional' (dropped when the extractor returns none, as IS chosen by
    default is)."""
    wanted = {"embedding": (extractor.feature_layer, FeatureStats(keep_raw=keep_rows))}
    if logits and extractor.logits_layer:
        wanted["logits"] = (extractor.logits_layer, FeatureStats(keep_raw=True))
    total = len(samples) if rows is None else len(rows)
    with bar(total, f"features {samples.name}", unit="sample", progress=progress) as shown:
        for batch in ahead(samples.batches(batch_size, rows), extractor.device):
            outputs = extractor(batch)
            if logits == "optional" and "logits" in wanted and wanted["logits"][0] not in outputs:
                del wanted["logits"]
            for layer, stats in wanted.values():
                if layer not in outputs:
                    raise InputError(f"extractor '{extractor.name}' returned no '{layer}' output")
                stats.update(outputs[layer].reshape(outputs[layer].shape[0], -1))
            shown.update(len(batch))
    return Features(**{name: stats for name, (_, stats) in wanted.items()})
