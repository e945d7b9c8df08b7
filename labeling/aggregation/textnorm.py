"""Free-text and multiple-choice answers as categories.

Free text is normalised with a configurable list of operations, then each distinct normalised
string is one (open) category. Multiple-choice answers are compared as sets: every answer is
turned into one canonical key, so two answers match exactly when they picked the same options.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Iterable, Sequence

if TYPE_CHECKING:  # pandas is imported where it is used: web processes start faster without it
    import pandas as pd

#: Operations in the order they are listed by the caller.
TEXT_OPS = ("trim", "lowercase", "strip_at", "collapse_whitespace")
DEFAULT_TEXT_OPS: tuple[str, ...] = TEXT_OPS


def normalize_text(values: Iterable[object] | pd.Series, ops: Sequence[str] = DEFAULT_TEXT_OPS) -> pd.Series:
    """Apply ``ops`` in order to every value (vectorised pandas string operations).

    * ``trim``: remove leading and trailing whitespace;
    * ``lowercase``: Unicode lower case (``str.lower``);
    * ``strip_at``: remove one leading ``@`` (user handles: ``@Alice`` -> ``Alice``);
    * ``collapse_whitespace``: replace every run of whitespace by one space.

    Missing values stay missing. Raises ValueError for an unknown operation.
    """
    unknown = [op for op in ops if op not in TEXT_OPS]
    if unknown:
        raise ValueError(f"unknown text operation(s) {', '.join(map(repr, unknown))}; known: {', '.join(TEXT_OPS)}")
    import pandas as pd

    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype="str")
    series = series.astype("str")
    for op in ops:
        if op == "trim":
            series = series.str.strip()
        elif op == "lowercase":
            series = series.str.lower()
        elif op == "strip_at":
            series = series.str.replace(r"^@", "", regex=True)
        else:
            series = series.str.replace(r"\s+", " ", regex=True)
    return series


def multichoice_key(choice: Iterable[object]) -> str:
    """Canonical category for a set of options: the JSON list of the distinct options, sorted.

    ``["b", "a", "a"]`` and ``("a", "b")`` both give ``'["a", "b"]'``; the empty set gives ``'[]'``.
    """
    return json.dumps(sorted({str(x) for x in choice}), ensure_ascii=False)


def multichoice_keys(choices: Iterable[Iterable[object]]) -> pd.Series:
    """:func:`multichoice_key` for every answer, ready for :func:`labeling.aggregation.encode`."""
    import pandas as pd

    return pd.Series([multichoice_key(c) for c in choices], dtype="str")
