"""Pictures of samples: image grids (PNG through Pillow) and 2D scatters over mixture modes (matplotlib, Agg).

Every file is written atomically, so a report or a run folder never holds half a PNG.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch

from .atomic import write_atomically
from .formatting import format_number


def image_grid(images: torch.Tensor, columns: int | None = None, padding: int = 2) -> torch.Tensor:
    """uint8 images (N, C, H, W) -> one uint8 picture (H', W', C) with `columns` per row and a grey border."""
    count, channels, height, width = images.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid = torch.full((channels, rows * (height + padding) + padding, columns * (width + padding) + padding), 128,
                      dtype=torch.uint8)
    for index, image in enumerate(images.cpu()):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        grid[:, top:top + height, left:left + width] = image
    return grid.permute(1, 2, 0)


def save_image_grid(images: torch.Tensor, path: Path, columns: int | None = None) -> Path:
    """Write uint8 images (N, C, H, W) as one PNG grid."""
    from PIL import Image

    grid = image_grid(images, columns).numpy()
    picture = Image.fromarray(grid[:, :, 0] if grid.shape[2] == 1 else grid)
    write_atomically(Path(path), lambda handle: picture.save(handle, format="PNG"))
    return Path(path)


def scatter_over_modes(axis, points: torch.Tensor, means: torch.Tensor | None = None, title: str = "") -> None:
    """Samples as small dots, the mixture's mode centres as red crosses, equal axes."""
    points = points.detach().cpu()
    axis.scatter(points[:, 0], points[:, 1], s=1, alpha=0.5)
    if means is not None:
        axis.scatter(means[:, 0], means[:, 1], s=12, c="red", marker="x")
    axis.set_title(title, fontsize=9)
    axis.set_aspect("equal")


def save_scatter(points: torch.Tensor, path: Path, means: torch.Tensor | None = None, title: str = "") -> Path:
    """Write one scatter of 2D samples over the mode centres as a PNG."""
    figure, axis = pyplot().subplots(figsize=(4, 4))
    scatter_over_modes(axis, points, means, title)
    save_figure(figure, Path(path))
    return Path(path)


def plain_ticks(axis, log_y_decades: float | None = None) -> None:
    """Tick labels as plain numbers by format_number ('6', '0.002', '1500'), never '6×10^0' or an offset.

    `log_y_decades`: the y axis is logarithmic over that many decades; its ticks then sit at 1, 2 and 5 times the
    powers of ten (powers of ten only beyond three decades, where more labels would overlap), minor ticks unlabelled.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    plain = FuncFormatter(lambda value, _position: format_number(value, 4))
    if log_y_decades is not None:
        subs = (1.0, 2.0, 5.0) if log_y_decades <= 3 else (1.0,)
        axis.yaxis.set_major_locator(LogLocator(base=10, subs=subs))
        axis.yaxis.set_minor_formatter(NullFormatter())
    axis.yaxis.set_major_formatter(plain)
    axis.xaxis.set_major_formatter(plain)


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (no display needed), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path: Path, dpi: int = 80) -> None:
    """Lay out, write atomically as PNG, and free the figure."""
    figure.tight_layout()
    write_atomically(Path(path), lambda handle: figure.savefig(handle, format="png", dpi=dpi))
    pyplot().close(figure)
