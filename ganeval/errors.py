"""User-facing errors: one line that names the input and what is wrong; the CLI maps them to exit code 2."""
from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterable


# Exit codes of every command: success, a gate or check failed, bad input or usage, interrupted (as the shell
# reports a command stopped by SIGINT).
EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class GanevalError(Exception):
    """Bad input or usage. The message is one line, shown to the user as is (no traceback)."""

    exit_code = EXIT_BAD_INPUT


class InputError(GanevalError, ValueError):
    """Samples, features or files that cannot be used as given."""


class UnknownNameError(GanevalError, KeyError):
    """A metric, extractor or option name that is not registered."""

    def __init__(self, kind: str, name: str, valid: Iterable[str]):
        self.kind, self.name, self.valid = kind, name, sorted(valid)
        super().__init__(f"unknown {kind} '{name}'; choose from {', '.join(self.valid)}")

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class WeightsNotFoundError(GanevalError, FileNotFoundError):
    """Network weights that are neither given, cached, nor downloadable."""


class FewSamplesWarning(UserWarning):
    """Fewer samples than feature dimensions: covariance estimates are rank deficient."""


class ExtractorWarning(UserWarning):
    """The extractor chosen by --extractor auto may not suit the data (fmnist-classifier on digits that are not
    Fashion-MNIST): the numbers are computed, but in a feature space that may not mean what the user thinks."""


class ValueRangeWarning(UserWarning):
    """The two sides hold values on different scales ([0, 1] against [0, 255]): the scores compare the scaling."""


class ImageModeWarning(UserWarning):
    """Images of a folder or zip were converted to RGB from other modes (grey ones among colour ones, palette, RGBA,
    CMYK), as pytorch-fid, torch-fidelity and clean-fid convert them; the message says how many, from which modes."""


class RecordsWarning(UserWarning):
    """A line of a metrics.jsonl could not be read (a writer killed mid-line leaves one)."""


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn_at_caller(message: str, category: type[Warning]) -> None:
    """warnings.warn attributed to the first frame outside ganeval: the user's own score() or fid() call, however
    deep inside the package the condition is found."""
    frame, level = sys._getframe(1), 2  # stacklevel 2 is this function's caller
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
