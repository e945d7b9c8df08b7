"""Split assignment: train / validation / test from a hash of the item's external id.

Pure (no Django). An item's split is a function of three things only: the project's salt, the
item's external id and the split ratios. It does not depend on which other items exist, on their
order or on when the item was added, so

- an item keeps its split in every version (as long as the ratios and the salt do not change);
- adding items never moves an old one.

How: ``u = first 8 bytes of sha256(salt + "\\x00" + external_id) / 2**64`` is a number in [0, 1)
spread evenly over items; the item is ``train`` if ``u < train``, ``validation`` if
``u < train + validation``, else ``test``. Changing the ratios moves only the items whose ``u``
lies between the old and the new boundary (and never between train and test directly unless the
validation band is empty).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

SPLITS: tuple[str, ...] = ("train", "validation", "test")
_SCALE = float(2**64)
_TOLERANCE = 1e-6


def new_salt() -> str:
    """A fresh per-project salt (32 hex characters)."""
    return secrets.token_hex(16)


@dataclass(frozen=True)
class SplitRatios:
    """Shares of the three splits; each in [0, 1], together 1."""

    train: float = 0.8
    validation: float = 0.1
    test: float = 0.1

    def __post_init__(self) -> None:
        for name in SPLITS:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"the {name} share must be between 0 and 1, got {value}")
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > _TOLERANCE:
            raise ValueError(f"the split shares must add up to 1, they add up to {total:g}")

    def as_dict(self) -> dict[str, float]:
        return {"train": self.train, "validation": self.validation, "test": self.test}


def split_point(salt: str, external_id: str) -> float:
    """The item's place in [0, 1): the same for the same (salt, external id), evenly spread."""
    digest = hashlib.sha256(f"{salt}\x00{external_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def assign_split(salt: str, external_id: str, ratios: SplitRatios) -> str:
    """``train``, ``validation`` or ``test`` for one item."""
    u = split_point(salt, external_id)
    if u < ratios.train:
        return "train"
    if u < ratios.train + ratios.validation:
        return "validation"
    return "test"


class SplitAssigner:
    """``assign_split`` with the salt and the boundaries computed once (the export's hot loop)."""

    __slots__ = ("_prefix", "_train", "_validation")

    def __init__(self, salt: str, ratios: SplitRatios) -> None:
        self._prefix = f"{salt}\x00".encode()
        self._train = ratios.train
        self._validation = ratios.train + ratios.validation

    def __call__(self, external_id: str) -> str:
        h = hashlib.sha256(self._prefix)
        h.update(external_id.encode())
        u = int.from_bytes(h.digest()[:8], "big") / _SCALE
        if u < self._train:
            return "train"
        if u < self._validation:
            return "validation"
        return "test"
