"""Where an extractor's weights come from, and how they are read: safely, hashed, one clear line when missing.

Every pretrained extractor names one file (`WeightsFile`) and looks for it in the same order: the path given
(`--weights PATH`, Python `weights=`), its environment variable, the torch hub cache
($TORCH_HOME/hub/checkpoints/<file>, where torch.hub and torchvision keep downloads), the Hugging Face cache (where
timm and open_clip keep theirs), then a download as the extractor's own library does it. Files are read tensors
only: `torch.load(weights_only=True)` or safetensors; never an arbitrary pickle.
"""
from __future__ import annotations

import hashlib
import io
import os
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import InputError, WeightsNotFoundError


@dataclass(frozen=True)
class WeightsFile:
    """One extractor's weights: the file's name, the environment variable that may point at it, where its library
    downloads it from (`url`: a direct URL into the torch hub cache; `hf_repo`: a Hugging Face repository holding
    `name`, fetched into the Hugging Face cache), and the flags that name it on the command line."""

    extractor: str
    name: str
    env: str
    url: str | None = None
    hf_repo: str | None = None
    flags: tuple[str, ...] = ("--weights",)  # what names the file on the command line
    hash_prefix: str | None = None  # torch.hub's check of a download: the SHA256's first hex digits

    @property
    def hub_path(self) -> Path:
        """$TORCH_HOME/hub/checkpoints/<name>: where torch.hub.load_state_dict_from_url keeps the file."""
        return Path(torch.hub.get_dir()) / "checkpoints" / self.name

    def hf_cached(self) -> Path | None:
        """The file in the Hugging Face cache (any snapshot of `hf_repo`), if a library already downloaded it."""
        if self.hf_repo is None:
            return None
        snapshots = _hf_repo_dir(self.hf_repo) / "snapshots"
        found = sorted(snapshots.glob(f"*/{self.name}")) if snapshots.is_dir() else []
        return found[-1] if found else None

    def source_text(self) -> str:
        """Where a user gets the file online."""
        if self.url:
            return self.url
        return f"https://huggingface.co/{self.hf_repo}/resolve/main/{self.name}"


def resolve(weights: WeightsFile, path: str | os.PathLike | None = None, download: bool = True,
            alternative: WeightsFile | None = None) -> Path:
    """The weights file of `weights`: `path`, then $ENV, then the torch hub cache, the Hugging Face cache, then
    `alternative` in the Hugging Face cache (the same network saved by another library under its own names, such as
    timm's model.safetensors), then a download (when `download`). Missing everywhere: a WeightsNotFoundError naming
    the file and every place looked."""
    if path is not None:
        return _existing(Path(path), "--weights", weights)
    if os.environ.get(weights.env):
        return _existing(Path(os.environ[weights.env]), f"${weights.env}", weights)
    candidates = [weights.hub_path, weights.hf_cached()]
    if alternative is not None:  # its own cache only: its file name (model.safetensors) is no one's in the hub's
        candidates.append(alternative.hf_cached())
    for cached in candidates:
        if cached is not None and cached.is_file():
            return cached
    if download:
        fetched = _download(weights)
        if fetched is not None:
            return fetched
    places = [f"${weights.env}", str(weights.hub_path)]
    places += [str(_hf_repo_dir(file.hf_repo)) + f" ({file.name})"
               for file in (weights, alternative) if file is not None and file.hf_repo]
    raise WeightsNotFoundError(
        f"{weights.extractor} weights {weights.name} not found (looked at {', '.join(places)}"
        f"{', and the download failed' if download else ''}); copy the file from {weights.source_text()} to "
        f"{weights.hub_path} or pass {' PATH or '.join(weights.flags)} PATH"
    )


def read_weights(path: Path) -> tuple[dict[str, torch.Tensor], str]:
    """A weights file's tensors and the SHA256 of the very bytes they were read from (one read: the file may change
    between two). .safetensors through safetensors, anything else with torch.load(weights_only=True); a file that is
    not a flat dict of tensors is a one-line InputError."""
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: unreadable weights file ({exc.strerror or type(exc).__name__})") from exc
    return _tensors(content, path), hashlib.sha256(content).hexdigest()


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """A weights file's tensors (read_weights without the hash)."""
    return read_weights(path)[0]


def _tensors(content: bytes, path: Path) -> dict[str, torch.Tensor]:
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load

            state = load(content)
        else:
            state = torch.load(io.BytesIO(content), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch and safetensors raise several types for truncated, foreign or pickled files
        raise InputError(f"{path}: not a readable tensor-only state dict ({type(exc).__name__})") from exc
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise InputError(f"{path}: expected a state dict of tensors")
    return state


def file_sha256(path: Path) -> str:
    """SHA256 of a file's bytes, read in 1 MiB chunks (weights files run to gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_keys(state: dict[str, torch.Tensor], expected: dict[str, torch.Size], path: Path, what: str) -> None:
    """Refuse a state dict whose key names or shapes differ from `expected`, naming the first differences."""
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    wrong = [f"{key} {tuple(state[key].shape)} (expected {tuple(expected[key])})" for key in expected
             if key in state and state[key].shape != expected[key]]
    if missing or unexpected or wrong:
        parts = [f"{label}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
                 for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if keys]
        raise InputError(f"{path}: not {what} weights ({'; '.join(parts)})")


def unbuilt(build: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """The network `build` makes, its tensors on the meta device: shapes without the random initialisation, which
    takes seconds for a ViT-L (2.6 s of CLIP's 2.7 s set-up) only for the weights file to overwrite it. A builder
    that cannot run on the meta device (one that reads a value with .item() while building, as some timm
    versions do) builds on the CPU instead: slower, the same network once loaded."""
    try:
        with torch.device("meta"):
            return build()
    except (RuntimeError, NotImplementedError):
        return build()


def load_into(network: torch.nn.Module, state: dict[str, torch.Tensor]) -> torch.nn.Module:
    """`network` (from `unbuilt`) holding `state`, keys checked strictly, each tensor cast to the dtype the network
    declares (as a copying load would: a half-precision file still gives a float32 network)."""
    declared = network.state_dict()
    state = {key: value.to(declared[key].dtype) if key in declared else value for key, value in state.items()}
    network.load_state_dict(state, strict=True, assign=True)
    left = [name for name, tensor in [*network.named_parameters(), *network.named_buffers()] if tensor.is_meta]
    if left:  # a buffer the state dict does not hold (non-persistent): the network would fail at its first use
        raise RuntimeError(f"tensors not in the weights file: {', '.join(left)}")
    return network


def _download(weights: WeightsFile) -> Path | None:
    """Fetch the file as its library would (torch.hub for a URL, huggingface_hub for a repository); None offline."""
    try:
        if weights.url:
            weights.hub_path.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(weights.url, str(weights.hub_path), hash_prefix=weights.hash_prefix,
                                           progress=False)
            return weights.hub_path
        if weights.hf_repo:
            from huggingface_hub import hf_hub_download

            return Path(hf_hub_download(weights.hf_repo, weights.name))
    except (urllib.error.URLError, OSError, RuntimeError, ImportError, ValueError):
        return None  # offline (huggingface_hub raises OSError subclasses): the caller explains in one line
    return None


def _hf_repo_dir(repo: str) -> Path:
    """Where the Hugging Face cache keeps a model repository's files."""
    return _hf_cache_dir() / f"models--{repo.replace('/', '--')}"


def _hf_cache_dir() -> Path:
    """The Hugging Face hub cache: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def _existing(path: Path, where: str, weights: WeightsFile) -> Path:
    if path.is_dir():
        raise WeightsNotFoundError(f"{where}: {path} is a folder; give the {weights.extractor} weights file itself "
                                   f"({weights.name})")
    if not path.is_file():
        raise WeightsNotFoundError(f"{where}: {weights.extractor} weights file {path} does not exist")
    return path
