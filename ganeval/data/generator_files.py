"""Generators named on the command line (`ganeval score MODEL REF ...`), loaded as callables:

  python:PACKAGE.MODULE:FUNCTION  a factory of the user's own code returning the generator (an nn.Module or any
                                  callable); `--generator-arg KEY=VALUE` are its keyword arguments (strings), as
                                  `uvicorn module:app` names an app; the current folder is importable
  FILE.onnx                       run with onnxruntime (`pip install ganeval[onnx]`); its first input takes the
                                  latents, a second the labels; external data files must sit in the model's folder
  FILE.pt / .ts / .jit            a TorchScript archive: a program, loaded only with --trust-generator
  FILE.pt2                        a torch.export archive: its loader unpickles, so --trust-generator too

A ganeval checkpoint (.pt, tensors only) is not a generator file: `ganeval score` reads it as a checkpoint. Every
file is read once; the bytes loaded are the bytes hashed for the record.
"""
from __future__ import annotations

import glob
import hashlib
import importlib
import io
import os
import re
import sys
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError

PYTHON_PREFIX = "python:"
TORCHSCRIPT_SUFFIXES = (".pt", ".pth", ".ts", ".jit", ".torchscript")
HOW_TO_TRUST = "--trust-generator (Python: load it yourself and pass the module)"


@dataclass(frozen=True)
class LoadedGenerator:
    """A generator loaded from its spec: the callable, the name records give it, and the SHA256 of its file (of the
    factory's module source for python: specs)."""

    generator: Callable
    name: str
    sha256: str | None


def is_generator_spec(spec: object) -> bool:
    """Whether a score input names a generator (python: factory, ONNX, TorchScript or torch.export file), not data
    or a ganeval checkpoint."""
    if not isinstance(spec, (str, os.PathLike)):
        return False
    text = str(spec)
    if text.startswith(PYTHON_PREFIX) or text.endswith((".onnx", ".pt2")):
        return True
    return text.endswith(TORCHSCRIPT_SUFFIXES) and is_torchscript_archive(Path(text))


def is_torchscript_archive(path: Path) -> bool:
    """A TorchScript archive is a zip holding code/ and constants.pkl; torch.save's (a checkpoint's) holds neither."""
    if not path.is_file() or not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(entry.endswith("constants.pkl") or "/code/" in entry for entry in archive.namelist())


def checkpoint_files(pattern: str) -> list[tuple[int, Path]]:
    """(step, file) of the files a glob or folder names, in step order; the step is the last number in the file's
    name (G_002000.pt, network-snapshot-001200.pkl, step-0002000.pt). A folder's files without a number (a log, a
    config) are left out; a glob's are an error, as are two files of one name (records name a file by its name)."""
    folder = Path(pattern)
    found = sorted(path for path in folder.iterdir() if path.is_file()) if folder.is_dir() else \
        sorted(Path(path) for path in glob.glob(pattern) if Path(path).is_file())
    steps, names = [], {}
    for path in found:
        numbers = re.findall(r"\d+", path.stem)
        if not numbers:
            if folder.is_dir():
                continue
            raise InputError(f"--checkpoints: {path.name} has no step number in its name (e.g. G_002000.pt)")
        if path.name in names:
            raise InputError(f"--checkpoints: two files named {path.name} ({names[path.name]} and {path}); records "
                             f"name a file by its name: give one folder's files")
        names[path.name] = path
        steps.append((int(numbers[-1]), path))
    if not steps:
        raise InputError(f"--checkpoints {pattern}: no files with a step number in their name there")
    return sorted(steps)


def load_generator(spec: str, *, arguments: dict[str, str], trust: bool, device: torch.device) -> LoadedGenerator:
    """The generator `spec` names (see the module docstring); `arguments` go to a python: factory."""
    if arguments and not spec.startswith(PYTHON_PREFIX):
        raise InputError(f"--generator-arg applies to python: factories; {spec} is a file")
    if spec.startswith(PYTHON_PREFIX):
        return _from_factory(spec, arguments)
    path = Path(spec)
    if not path.is_file():
        raise InputError(f"{spec}: no such generator file")
    if spec.endswith(".onnx"):
        return _from_onnx(path, device)
    if not trust:
        raise InputError(f"{spec} is a program that runs with your permissions (it can read, write or delete your "
                         f"files), not weights; load it only if you trust it as a script: {HOW_TO_TRUST}")
    content = path.read_bytes()  # hash and load the same bytes: the file may change after it is read
    digest = hashlib.sha256(content).hexdigest()
    try:
        with warnings.catch_warnings():  # torch marks jit.load deprecated; TorchScript files are still what users have
            warnings.simplefilter("ignore", FutureWarning)
            if spec.endswith(".pt2"):
                module = torch.export.load(io.BytesIO(content)).module()
            else:
                module = torch.jit.load(io.BytesIO(content), map_location=device)
    except Exception as exc:  # torch raises RuntimeError or ValueError variants for other files
        kind = "torch.export" if spec.endswith(".pt2") else "TorchScript"
        raise InputError(f"{spec}: not a {kind} program ({type(exc).__name__})") from exc
    return LoadedGenerator(module, str(path), digest)


def _from_factory(spec: str, arguments: dict[str, str]) -> LoadedGenerator:
    """python:PACKAGE.MODULE:FUNCTION called with `arguments`; the current folder is importable (as uvicorn's)."""
    module_name, _, function_name = spec[len(PYTHON_PREFIX):].partition(":")
    if not module_name or not function_name:
        raise InputError(f"{spec}: give python:PACKAGE.MODULE:FUNCTION, e.g. python:mygan.models:load_generator")
    added = os.getcwd() not in sys.path
    if added:  # the current folder is importable for this import only, not for every later import of the process
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"{spec}: cannot import {module_name} ({type(exc).__name__}: {exc}; the current folder and "
                         f"the installed packages were searched)") from exc
    except Exception as exc:  # the user's module raised while importing (SyntaxError included)
        raise InputError(f"{spec}: importing {module_name} raised {_one_line(exc)}") from exc
    finally:
        if added:
            sys.path.remove(os.getcwd())
    factory = getattr(module, function_name, None)
    if not callable(factory):
        raise InputError(f"{spec}: module {module_name} has no function {function_name}")
    try:
        generator = factory(**arguments)
    except Exception as exc:  # the user's code: any error it raises is reported in one line
        raise InputError(f"{spec}: the factory raised {_one_line(exc)}") from exc
    if not callable(generator):
        raise InputError(f"{spec}: the factory returned {type(generator).__name__}, not a generator (a callable or "
                         f"an nn.Module)")
    # the record's hash: of the factory's module, and of every argument that names a file (a checkpoint, say)
    files = [getattr(module, "__file__", None) or "", *arguments.values()]
    digest = hashlib.sha256()
    for file in (Path(file) for file in files if file and Path(file).is_file()):
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    named = spec + (f"({', '.join(f'{key}={value}' for key, value in arguments.items())})" if arguments else "")
    return LoadedGenerator(generator, named, digest.hexdigest())


def _one_line(error: BaseException) -> str:
    """'ValueError: its first line' of an exception, for a one-line message."""
    detail = str(error).splitlines()[0] if str(error) else ""
    return type(error).__name__ + (f": {detail}" if detail else "")


def _from_onnx(path: Path, device: torch.device) -> LoadedGenerator:
    """An ONNX generator run by onnxruntime (CUDA where the device is, else the CPU), from the bytes checked and
    hashed: external data is checked, read into the model and handed over with it, never read again by path."""
    try:
        import onnx
        import onnxruntime
        from onnx.external_data_helper import load_external_data_for_model, uses_external_data
    except ImportError as exc:
        raise InputError(f"{path}: ONNX generators need onnxruntime and onnx: pip install 'ganeval[onnx]'") from exc
    content = path.read_bytes()
    try:
        model = onnx.load_model_from_string(content)
    except Exception as exc:  # a DecodeError of protobuf, or onnx's own
        raise InputError(f"{path}: not an ONNX model ({type(exc).__name__})") from exc
    digest = hashlib.sha256(content)
    tensors = list(_all_tensors(model))
    if any(uses_external_data(tensor) for tensor in tensors):
        _check_external_data(tensors, path)
        load_external_data_for_model(model, str(path.resolve().parent))
        content = model.SerializeToString()
        digest.update(content)  # the data too: the hash names what runs
    providers = (["CUDAExecutionProvider"] if device.type == "cuda" else []) + ["CPUExecutionProvider"]
    try:
        session = onnxruntime.InferenceSession(content, providers=providers)
    except Exception as exc:  # onnxruntime's Fail / InvalidGraph / NoSuchFile
        raise InputError(f"{path}: onnxruntime cannot load it ({_one_line(exc)})") from exc
    inputs = [entry.name for entry in session.get_inputs()]

    def generate(latents: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        feed = {inputs[0]: latents.detach().cpu().numpy().astype(np.float32)}
        if labels is not None:
            if len(inputs) < 2:
                raise InputError(f"{path}: the model takes one input (the latents), but labels were asked")
            feed[inputs[1]] = labels.detach().cpu().numpy().astype(np.int64)
        try:
            return torch.from_numpy(np.asarray(session.run(None, feed)[0]))
        except Exception as exc:  # a fixed batch size exported, a wrong latent size: onnxruntime's many-line error
            raise InputError(f"{path}: onnxruntime cannot run it on a batch of {len(latents)} latents of "
                             f"{latents.shape[1]} ({_one_line(exc)}); export it with a dynamic batch axis "
                             f"(dynamic_axes or dynamic_shapes) and check --latent-dim") from exc

    return LoadedGenerator(generate, str(path), digest.hexdigest())


def _all_tensors(model):
    """Every tensor of an ONNX model: the initializers (sparse ones too) and the attributes' tensors, of the main
    graph, of every subgraph (If, Loop, Scan) and of the model's functions."""
    graphs = [model.graph]
    for function in model.functions:
        yield from _node_tensors(function.node, graphs)
    while graphs:
        graph = graphs.pop()
        yield from graph.initializer
        for sparse in graph.sparse_initializer:
            yield from (sparse.values, sparse.indices)
        yield from _node_tensors(graph.node, graphs)


def _node_tensors(nodes, graphs: list):
    """The tensors of `nodes`' attributes; their subgraphs are added to `graphs`."""
    for node in nodes:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            for sparse in [attribute.sparse_tensor] if attribute.HasField("sparse_tensor") else []:
                yield from (sparse.values, sparse.indices)
            for sparse in attribute.sparse_tensors:
                yield from (sparse.values, sparse.indices)
            graphs += ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs)


def _check_external_data(tensors, path: Path) -> None:
    """An ONNX model's external data must be a plain relative path inside its folder: an absolute path, '..' or a
    location such as ../../secret would read any file (onnx/onnx #3991), and onnxruntime gives some names a
    meaning of its own (in-memory addresses)."""
    folder = path.resolve().parent
    for tensor in tensors:
        for entry in tensor.external_data:
            location = entry.value
            if entry.key != "location":
                continue
            plain = location and not Path(location).is_absolute() and ".." not in Path(location).parts \
                and "*" not in location and (folder / location).resolve().is_relative_to(folder)
            if not plain:
                raise InputError(f"{path}: tensor {tensor.name} reads external data from {location}, outside the "
                                 f"model's folder; put the data file beside the model")
