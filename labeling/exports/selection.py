"""Which decisions a version holds, and what each row says about its item. Pure: no Django.

A row's *source* is decided first, then the row is kept if that source is selected:

- ``gold``: a gold item; its label is the known answer (``Item.gold``), confidence 1.0;
- ``review``: a lead reviewed the decision (``Consensus.reviewed_by`` set, or status reviewed);
- ``consensus``: the quorum rule accepted the label (``Consensus.status == accepted``).

Anything else (open items, items without consensus, decisions with no label) is never exported.
``include_weak_above`` is the hook for weak labels (Snorkel label model output above a
confidence); it is part of the selection and its fingerprint today but selects nothing until the
weak-labeling work stores weak labels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from labeling.exports.writers import FORMATS

SOURCE_GOLD = "gold"
SOURCE_REVIEW = "review"
SOURCE_CONSENSUS = "consensus"
SOURCES = (SOURCE_CONSENSUS, SOURCE_REVIEW, SOURCE_GOLD)
DEFAULT_FORMATS = ("jsonl", "csv", "parquet")


@dataclass(frozen=True)
class Selection:
    accepted: bool = True
    reviewed: bool = True
    gold: bool = True
    include_weak_above: float | None = None

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> "Selection":
        """Build from API/JSON input; raises ValueError naming the bad key."""
        raw = dict(raw or {})
        unknown = sorted(set(raw) - {"accepted", "reviewed", "gold", "include_weak_above"})
        if unknown:
            raise ValueError(f"unknown selection key {unknown[0]!r}")
        for key in ("accepted", "reviewed", "gold"):
            if key in raw and not isinstance(raw[key], bool):
                raise ValueError(f"{key} must be true or false")
        weak = raw.get("include_weak_above")
        if weak is not None and (isinstance(weak, bool) or not isinstance(weak, (int, float)) or not 0 <= weak <= 1):
            raise ValueError("include_weak_above must be a number between 0 and 1, or null")
        selection = cls(**{**raw, "include_weak_above": None if weak is None else float(weak)})
        if not (selection.accepted or selection.reviewed or selection.gold or selection.include_weak_above is not None):
            raise ValueError("the selection is empty: choose at least one of accepted, reviewed, gold")
        return selection

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def clean_formats(raw: list[str] | tuple[str, ...] | None) -> list[str]:
    """Distinct known formats in their canonical order; raises ValueError for an unknown one."""
    if not raw:
        return list(DEFAULT_FORMATS)
    unknown = [f for f in raw if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format {unknown[0]!r}; use {', '.join(FORMATS)}")
    return [f for f in FORMATS if f in set(raw)]


def row_source(selection: Selection, *, is_gold: bool, status: str | None, reviewed: bool,
               label: Any) -> str | None:
    """The row's source if the selection keeps it, else None."""
    if is_gold:
        return SOURCE_GOLD if selection.gold else None
    if label is None or status is None:
        return None
    if reviewed or status == "reviewed":
        return SOURCE_REVIEW if selection.reviewed else None
    if status == "accepted":
        return SOURCE_CONSENSUS if selection.accepted else None
    return None


def agreement_of(votes: dict[str, Any] | None) -> float | None:
    """Share of the item's answers that gave its top label (None without answers)."""
    if not votes:
        return None
    counts = [v for v in votes.values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    total = sum(counts)
    if total <= 0:
        return None
    return round(max(counts) / total, 6)
