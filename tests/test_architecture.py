"""The shape of the package: evaluation never imports training, no module reaches into another package's private
names, functions stay small enough to read, and a metric family is one registered spec, nothing more."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from ganeval.metrics.registry import Metric, MetricKey, MetricResult, option, register_metric, unregister_metric

PACKAGE = Path(__file__).resolve().parent.parent / "ganeval"
MAX_PARAMETERS = 8


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text())) for path in sorted(PACKAGE.rglob("*.py"))]


def _parameter_count(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    arguments = function.args
    names = [argument.arg for argument in arguments.posonlyargs + arguments.args]
    count = len(names) + len(arguments.kwonlyargs) + (arguments.vararg is not None) + (arguments.kwarg is not None)
    return count - (names[:1] in (["self"], ["cls"]))


def test_no_function_has_more_than_eight_parameters():
    offenders = [f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({_parameter_count(node)})"
                 for path, tree in _modules() for node in ast.walk(tree)
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _parameter_count(node) > MAX_PARAMETERS]
    assert not offenders, "functions with more than 8 parameters:\n" + "\n".join(offenders)


def _package_of(path: Path) -> tuple[str, ...]:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return parts[:-1] if path.name != "__init__.py" else parts[:-1]


def _imported_module(path: Path, node: ast.ImportFrom) -> tuple[str, ...]:
    package = _package_of(path)
    base = package[: len(package) - node.level + 1] if node.level else ()
    return base + tuple((node.module or "").split(".")) if node.module else base


def test_no_module_imports_a_private_name_of_another_package():
    """`from ..metrics._inputs import x` or `from ..features.cache import _by_name` couple a module to another
    package's internals; dunder names (__version__, __future__) are public."""
    offenders = []
    for path, tree in _modules():
        own = _package_of(path)
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or node.module == "__future__":
                continue
            target = _imported_module(path, node) if node.level else tuple(node.module.split("."))
            if target[:1] != ("ganeval",):
                continue
            names = [alias.name for alias in node.names] + list(target)
            private = [name for name in names if name.startswith("_") and not name.startswith("__")]
            if private and target[: len(own)] != own:
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} imports {', '.join(private)}")
    assert not offenders, "\n".join(offenders)


# The floors of the package, bottom to top (docs/architecture.md draws them): a module imports only from its own
# floor or the floors below it, and no two modules import each other, directly or around a circle. A module's floor
# is that of the longest prefix listed; a new module is placed here.
FLOORS = (
    ("foundations", ("errors", "config", "atomic", "device", "arrays", "progress", "timing", "threads", "formatting",
                     "jsonl", "distributed", "plots", "metrics.registry", "presets")),
    ("records", ("records", "runs", "tables", "training_log", "trackers")),
    ("sources and features", ("data", "nets", "features", "reference")),
    ("metrics", ("metrics", "evaluate")),
    ("pipeline", ("pipeline",)),
    ("orchestration", ("sweep", "evaluator", "compare", "report", "gate", "verdicts", "train", "human", "showcase",
                       "diagnose", "report_health", "neighbours")),
    ("interface", ("demo", "arguments", "commands", "cli", "__main__", "")),
)


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the modules of `package` it imports (read from the AST: imports inside functions and under
    TYPE_CHECKING count, since they couple the modules all the same). A module's own package (`from . import
    __version__`) is left out: every module may read the package it is part of."""
    top = package.name
    modules = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        own_package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: up `level - 1` packages from the module's own
                    parent = own_package[: len(own_package) - node.level + 1]
                    base = ".".join(parent + ([node.module] if node.module else []))
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and target.split(".")[0] == top and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm): each is a set of modules
    that import each other, directly or around a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                component.append(stack.pop())
                if component[-1] == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def floor_of(module: str) -> int:
    """The floor of a module of ganeval: that of the longest prefix FLOORS lists."""
    relative = module.removeprefix("ganeval").removeprefix(".")
    matches = [(len(prefix), floor) for floor, (_, prefixes) in enumerate(FLOORS) for prefix in prefixes
               if relative == prefix or prefix and relative.startswith(prefix + ".")]
    assert matches, f"{module} is on no floor: place it in tests/test_architecture.py FLOORS (and docs/architecture.md)"
    return max(matches)[1]


def test_no_module_imports_another_that_imports_it_back():
    assert import_cycles(import_graph(PACKAGE)) == []


def test_the_cycle_check_finds_a_cycle_and_only_a_cycle(tmp_path):
    package = tmp_path / "toy"
    (package / "inner").mkdir(parents=True)
    files = {"__init__.py": "from .a import A\n", "a.py": "import os\nA = 1\n",
             "b.py": "def late():\n    from .inner.c import C\n", "inner/__init__.py": "",
             "inner/c.py": "from .. import b\nC = 1\n"}  # b -> inner.c -> b, the import inside a function counts
    for name, text in files.items():
        (package / name).write_text(text)
    assert import_cycles(import_graph(package)) == [["toy.b", "toy.inner.c"]]
    (package / "inner" / "c.py").write_text("from ..a import A\nC = A\n")  # now one way only
    assert import_cycles(import_graph(package)) == []


def test_every_import_points_to_the_same_floor_or_down():
    graph = import_graph(PACKAGE)
    upward = [f"{module} ({FLOORS[floor_of(module)][0]}) imports {target} ({FLOORS[floor_of(target)][0]})"
              for module, targets in sorted(graph.items()) for target in sorted(targets)
              if floor_of(target) > floor_of(module)]
    assert not upward, "imports that point up a floor:\n" + "\n".join(upward)


def test_commands_never_import_the_parser():
    assert "ganeval.cli" not in import_graph(PACKAGE)["ganeval.commands"]


def test_evaluation_does_not_import_training():
    code = ("import sys, ganeval.evaluate, ganeval.pipeline\n"
            "print(sorted(name for name in sys.modules if name.startswith('ganeval.train')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_score_takes_at_most_four_positional_parameters():
    from ganeval.pipeline import score

    tree = ast.parse((PACKAGE / "pipeline.py").read_text())
    (function,) = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == score.__name__]
    assert len(function.args.posonlyargs + function.args.args) <= 4


def test_a_reference_spec_is_read_once_per_score(tmp_path, monkeypatch):
    """The moments .npz is opened once (today's classification and loading opened it twice), and a cached entry's
    card is read once (the extractor 'auto' picks and the check both come from it)."""
    import ganeval.features.cache as cache
    import ganeval.reference.spec as spec
    from ganeval import score
    from ganeval.cli import main

    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(300, 4)), rng.normal(size=(200, 4))
    np.save(tmp_path / "fake.npy", fake)
    np.savez(tmp_path / "stats.npz", mu=real.mean(0), sigma=np.cov(real, rowvar=False))
    opened = []
    original_load = spec.np.load
    monkeypatch.setattr(spec.np, "load", lambda path, **kw: opened.append(str(path)) or original_load(path, **kw))
    score(str(tmp_path / "fake.npy"), str(tmp_path / "stats.npz"), "fid", progress=False)
    assert opened.count(str(tmp_path / "stats.npz")) == 1

    np.save(tmp_path / "real.npy", real)
    assert main(["ref", "build", str(tmp_path / "real.npy"), "--quiet"]) == 0
    (card,) = cache.list_references()
    reads = []
    original_card = cache.read_card
    monkeypatch.setattr(cache, "read_card", lambda *a, **k: reads.append(a) or original_card(*a, **k))
    record = score(str(tmp_path / "fake.npy"), f"ref:{card.key}", "fid,kid", progress=False)
    assert record["extractor"] == "identity" and len(reads) == 1


@dataclass(frozen=True)
class ToyOptions:
    scale: float = option(1.0, "toy: multiply the distance by this (default 1)")


def _toy_compute(context, weights=None) -> MetricResult:
    """The scaled distance between the two sides' means; replicates from the weighted means of the resamples."""
    scale = context.options.scale
    reference_mean = context.reference.mean.to(context.device)
    value = scale * float((context.features.mean().to(reference_mean) - reference_mean).norm())
    replicates = {}
    if weights is not None:
        rows = context.features.raw().to(torch.float64)
        means = weights @ rows / rows.shape[0]
        replicates["toy"] = scale * (means - reference_mean).norm(dim=1)
    return MetricResult({"toy": value}, {"scale": scale}, replicates)


@pytest.fixture
def toy_family():
    register_metric(Metric("toy", (MetricKey("toy", higher_is_better=False, interval="basic", bounds=(0.0, np.inf)),),
                           _toy_compute, options=ToyOptions, rows="input"))
    try:
        yield
    finally:
        unregister_metric("toy")


def test_a_toy_family_registered_here_is_a_metric_everywhere(toy_family, run_cli, tmp_path):
    """One registered spec, in this file only: --metrics and its --toy-scale flag, the record, --ci intervals,
    compare (ranked lower-first) and gate (a --max limit)."""
    rng = np.random.default_rng(1)
    np.save(tmp_path / "real.npy", rng.normal(size=(400, 3)))
    for name, shift in (("near", 0.05), ("far", 0.5)):
        np.save(tmp_path / f"{name}.npy", rng.normal(size=(300, 3)) + shift)
        code, out, err = run_cli("score", tmp_path / f"{name}.npy", tmp_path / "real.npy", "--metrics", "fid,toy",
                                 "--toy-scale", "2", "--ci", "0.9", "--ci-replicates", "50", "--json", "--quiet",
                                 "--no-cache", "--append", tmp_path / "runs" / name)
        assert code == 0, err
        record = json.loads(out)
        assert record["toy"] > 0 and record["diagnostics"]["toy"] == {"scale": 2.0}
        assert record["toy_ci_low"] <= record["toy"] <= record["toy_ci_high"]
    code, table, err = run_cli("compare", tmp_path / "runs" / "*", "--metrics", "toy", "--format", "csv")
    assert code == 0, err
    rows = [line.split(",")[0] for line in table.splitlines()[1:]]
    assert rows == ["near.npy", "far.npy"], table  # plain files: runs are named by their input
    code, out, err = run_cli("gate", tmp_path / "runs" / "near", "--max", "toy=1.2")
    assert code == 0, out + err
    code, out, err = run_cli("gate", tmp_path / "runs" / "far", "--max", "toy=1.2")
    assert code == 1 and "toy" in out
