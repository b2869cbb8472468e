"""ganeval.models: the files that ship inside the package (evaluator weights and cards, training configs, gates).

The repository keeps them in its top-level models/ folder; pyproject.toml maps that folder to this package, so a
wheel and an editable install both find them with importlib.resources, whatever the working directory.
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from ..errors import GanevalError


def shipped_path(*parts: str) -> Path:
    """The real file-system path of a shipped file or folder, e.g. shipped_path("configs", "fmnist-dcgan.toml").

    torch.load, globbing and the CLI's messages need real paths, so a zipped install (a zipapp, an egg) is refused
    with one line rather than extracted to a temporary copy.

    >>> shipped_path("configs").name
    'configs'
    """
    folder = files(__name__)
    if not isinstance(folder, Path):
        raise GanevalError(f"ganeval's shipped files are inside an archive ({folder}); install ganeval unpacked "
                           "(pip install ganeval) to use its weights and configs")
    return folder.joinpath(*parts)
