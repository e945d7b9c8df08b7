"""A version's manifest: what it holds and how it was made. Pure: no Django.

``ManifestStats`` accumulates counts while rows stream past (per split, per label, per source,
agreement and confidence figures) in constant memory; ``build_manifest`` puts everything in one
dict with a fixed key order. The manifest is stored on the version row and served by the API; it
is metadata about the files (who, when), so unlike the files it carries timestamps.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from labeling.exports.splits import SPLITS

MANIFEST_VERSION = 1
AGREEMENT_BINS = 10
MAX_LABELS = 1000  # distinct labels counted by name; the rest (free text) are counted as OTHER
OTHER = "(other labels)"


def label_key(label: Any) -> str:
    """How a label is named in the counts: itself for text, JSON for anything else."""
    return label if isinstance(label, str) else json.dumps(label, ensure_ascii=False, separators=(",", ":"),
                                                           sort_keys=True)


class ManifestStats:
    """Counts gathered row by row while a version is written."""

    def __init__(self, max_labels: int = MAX_LABELS) -> None:
        self.max_labels = max_labels
        self.labels_truncated = False
        self.rows = 0
        self.per_split: dict[str, int] = {s: 0 for s in SPLITS}
        self.labels: dict[str, Counter] = {s: Counter() for s in SPLITS}
        self.sources: Counter = Counter()
        self.histogram = [0] * AGREEMENT_BINS
        self.agreement_sum = 0.0
        self.agreement_n = 0
        self.unanimous = 0
        self.confidence_sum = 0.0
        self.confidence_n = 0
        self.answers = 0

    def add(self, *, split: str, label: Any, source: str, confidence: float | None, answers: int,
            agreement: float | None) -> None:
        self.rows += 1
        self.per_split[split] += 1
        key = label_key(label)
        counter = self.labels[split]
        if key not in counter and len(counter) >= self.max_labels:
            key = OTHER
            self.labels_truncated = True
        counter[key] += 1
        self.sources[source] += 1
        self.answers += answers
        if confidence is not None:
            self.confidence_sum += confidence
            self.confidence_n += 1
        if agreement is not None:
            self.agreement_sum += agreement
            self.agreement_n += 1
            self.histogram[min(int(agreement * AGREEMENT_BINS), AGREEMENT_BINS - 1)] += 1
            if agreement >= 1.0:
                self.unanimous += 1

    def counts(self) -> dict[str, Any]:
        all_labels: Counter = Counter()
        for split in SPLITS:
            all_labels.update(self.labels[split])
        return {
            "rows": self.rows,
            "per_split": dict(self.per_split),
            "per_label": dict(sorted(all_labels.items())),
            "per_split_and_label": {s: dict(sorted(self.labels[s].items())) for s in SPLITS},
            "per_source": dict(sorted(self.sources.items())),
            "labels_truncated": self.labels_truncated,
        }

    def agreement(self) -> dict[str, Any]:
        """Agreement on the items: the share of each item's answers that gave its top label."""
        n = self.agreement_n
        return {
            "items_with_answers": n,
            "mean": round(self.agreement_sum / n, 6) if n else None,
            "unanimous_share": round(self.unanimous / n, 6) if n else None,
            "histogram": {
                "bins": [round(i / AGREEMENT_BINS, 2) for i in range(AGREEMENT_BINS + 1)],
                "counts": list(self.histogram),
            },
            "mean_confidence": round(self.confidence_sum / self.confidence_n, 6) if self.confidence_n else None,
            "answers": self.answers,
            "mean_answers": round(self.answers / self.rows, 6) if self.rows else None,
        }


def build_manifest(*, project: dict[str, Any], number: int, parent: int | None, created_at: str,
                   created_by: str | None, note: str, selection: dict[str, Any], formats: list[str],
                   splits: dict[str, Any], rule: dict[str, Any], consensus_method: str,
                   stats: ManifestStats, columns: dict[str, str], files: list[dict[str, Any]],
                   fingerprint: str, diff_from_parent: dict[str, int] | None) -> dict[str, Any]:
    """The manifest of one version, keys in a fixed order."""
    return {
        "manifest_version": MANIFEST_VERSION,
        "project": project,
        "version": number,
        "parent": parent,
        "created_at": created_at,
        "created_by": created_by,
        "note": note,
        "selection": selection,
        "formats": list(formats),
        "splits": splits,
        "quorum_rule": rule,
        "consensus_method": consensus_method,
        "counts": stats.counts(),
        "agreement": stats.agreement(),
        "columns": columns,
        "files": files,
        "fingerprint": fingerprint,
        "diff_from_parent": diff_from_parent,
    }
