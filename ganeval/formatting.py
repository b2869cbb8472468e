"""How numbers are printed in tables, verdicts and reports: one rule for every place that shows a metric value."""
from __future__ import annotations

import math

# Values this close to zero are float64 rounding, not signal: FID of two identical sets comes out near +-1e-13
# (the trace terms cancel to within machine precision times their size), which reads as a real, negative score.
ROUNDING_ZERO = 1e-9


def format_number(value: float | None, digits: int = 6) -> str:
    """`value` with `digits` significant digits; rounding noise around zero prints as 0, None and NaN as 'n/a'.

    >>> format_number(-1.98952e-13), format_number(12.3456789), format_number(None)
    ('0', '12.3457', 'n/a')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if abs(value) < ROUNDING_ZERO:
        return "0"
    return format(value, f".{digits}g")


def format_interval(low: float, high: float, digits: int = 4) -> str:
    """'[11.9, 12.8]' with the same rounding rule as format_number."""
    return f"[{format_number(low, digits)}, {format_number(high, digits)}]"
