"""TensorBoard: event files under DIR/RUN, one folder per ganeval run (`tensorboard --logdir DIR` lists them).

Scalars are add_scalar at their step and wall time; parameters are one text summary per name (TensorBoard has no
parameters outside its hparams plugin, which wants one trial folder per set of values); pictures are add_image.
Written with torch.utils.tensorboard (torch ships the writer; it needs the tensorboard package), read back with
tensorboard's EventAccumulator. Every write is flushed, so a crash loses nothing that was logged.
"""
from __future__ import annotations

from pathlib import Path

from .names import segment
from .points import Picture, Scalar
from .sinks import Existing

PARAMS_TAG = "params"  # text summaries: params/config/lr_g, params/setting/.../seed
TEXT_SUFFIX = "/text_summary"  # what add_text appends to a tag


class TensorBoardRun:
    def __init__(self, folder: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.folder = folder
        self.writer = SummaryWriter(log_dir=str(folder), flush_secs=3600)  # flushed by us after each write

    def write_scalars(self, scalars: list[Scalar]) -> None:
        for scalar in scalars:
            self.writer.add_scalar(scalar.name, scalar.value, scalar.step, walltime=scalar.wall_time)
        self.writer.flush()

    def write_params(self, params: dict[str, str]) -> None:
        for name, value in params.items():
            self.writer.add_text(f"{PARAMS_TAG}/{name}", value, 0)
        self.writer.flush()

    def write_pictures(self, pictures: list[Picture]) -> None:
        import numpy as np
        from PIL import Image

        for picture in pictures:
            with Image.open(picture.path) as image:
                pixels = np.asarray(image.convert("RGB"))
            self.writer.add_image(picture.tag, pixels, picture.step, dataformats="HWC")
        self.writer.flush()

    def existing(self, names: set[str]) -> Existing:
        """What the folder's event files hold (every event, not tensorboard's default sample of 10,000)."""
        accumulator = read_events(self.folder)
        tags = accumulator.Tags()
        points = {(tag, event.step) for tag in tags.get("scalars", ()) if tag in names
                  for event in accumulator.Scalars(tag)}
        pictures = {(tag, event.step) for tag in tags.get("images", ()) for event in accumulator.Images(tag)}
        params = {tag[len(PARAMS_TAG) + 1:].removesuffix(TEXT_SUFFIX) for tag in tags.get("tensors", ())
                  if tag.startswith(PARAMS_TAG + "/")}
        return Existing(points, params, pictures)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def read_events(folder: str | Path):
    """An EventAccumulator of `folder`'s event files, loaded whole (size guidance 0: keep every event)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    accumulator.Reload()
    return accumulator


def open_run(target: str, run_name: str) -> TensorBoardRun:
    return TensorBoardRun(Path(target) / segment(run_name))
