"""The difference between two versions: items added, removed and relabelled. Pure: no Django.

Each version keeps an index file (``index.jsonl.gz``: ``[item_id, external_id, label, split]`` in
item-id order). A diff is one merge of two such streams, so it runs in constant memory whatever
the size of the versions. An item is matched by its id; it is *relabelled* when its label differs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

IndexRow = tuple[int, str, Any, str]
CHANGES = ("added", "removed", "relabelled")


@dataclass
class Diff:
    added: int = 0
    removed: int = 0
    relabelled: int = 0
    unchanged: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)
    next_after: int | None = None

    def counts(self) -> dict[str, int]:
        return {"added": self.added, "removed": self.removed, "relabelled": self.relabelled,
                "unchanged": self.unchanged}


def diff_indexes(old: Iterator[IndexRow], new: Iterator[IndexRow], *, rows: bool = False,
                 changes: tuple[str, ...] = CHANGES, after: int | None = None, limit: int = 1000) -> Diff:
    """Compare two index streams (both in item-id order).

    Counts are always complete. With ``rows``, up to ``limit`` changed rows of the kinds in
    ``changes`` with ``item_id > after`` are kept, and ``next_after`` says where the next page
    starts (None when there is none)."""
    out = Diff()
    _end = (None, None, None, None)
    o = next(old, _end)
    n = next(new, _end)

    def keep(kind: str, item_id: int, external_id: str, old_label: Any, new_label: Any, split: str | None) -> None:
        if not rows or kind not in changes or (after is not None and item_id <= after):
            return
        if len(out.rows) >= limit:
            if out.next_after is None:
                out.next_after = out.rows[-1]["item_id"]
            return
        out.rows.append({"change": kind, "item_id": item_id, "external_id": external_id,
                         "old_label": old_label, "new_label": new_label, "split": split})

    while o[0] is not None or n[0] is not None:
        if n[0] is None or (o[0] is not None and o[0] < n[0]):
            out.removed += 1
            keep("removed", o[0], o[1], o[2], None, o[3])
            o = next(old, _end)
        elif o[0] is None or n[0] < o[0]:
            out.added += 1
            keep("added", n[0], n[1], None, n[2], n[3])
            n = next(new, _end)
        else:
            if o[2] == n[2]:
                out.unchanged += 1
            else:
                out.relabelled += 1
                keep("relabelled", n[0], n[1], o[2], n[2], n[3])
            o = next(old, _end)
            n = next(new, _end)
    return out
