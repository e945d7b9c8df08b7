"""Access to the real crowdsourcing datasets in the shared data folder (read-only)."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labeling.aggregation import EncodedAnswers, encode

DATA = Path(
    os.environ.get("QUORUM_SHARED_DATA")
    or Path(__file__).resolve().parents[2].parent / "shared" / "data"
) / "crowd"
NAMES = ("bluebirds", "rte", "wsd", "face", "product", "adult2")


def require_data() -> None:
    """Skip when the shared data is absent; fail instead under CI=true."""
    if (DATA / "reference_crowdkit.json").is_file():
        return
    message = f"shared crowd datasets not found at {DATA} (set QUORUM_SHARED_DATA)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@lru_cache(maxsize=None)
def load(name: str) -> tuple[pd.DataFrame, EncodedAnswers, np.ndarray]:
    """(answers as strings, encoded answers, per-item truth codes with -1 where unknown)."""
    answers = pd.read_csv(DATA / name / "answers.csv", dtype=str)
    truth = pd.read_csv(DATA / name / "truth.csv", dtype=str)
    enc = encode(answers)
    return answers, enc, enc.encode_gold(truth.set_index("item")["label"])


@lru_cache(maxsize=None)
def reference() -> dict:
    return json.loads((DATA / "reference_crowdkit.json").read_text())["datasets"]
