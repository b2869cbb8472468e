"""ganeval: evaluation and metrics for generative adversarial networks.

>>> import ganeval
>>> record = ganeval.score("ring8", "ring8", "fid", progress=False, use_cache=False)
>>> record["fid"] < 0.01
True
"""
__version__ = "0.1.0"

from .compare import compare  # noqa: E402
from .errors import GanevalError  # noqa: E402
from .evaluate import score  # noqa: E402
from .records import load_records  # noqa: E402

__all__ = ["GanevalError", "__version__", "compare", "load_records", "score"]
