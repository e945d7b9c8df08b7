"""The management commands, through Django's call_command (no database needed)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

ANSWERS = "item,annotator,label\nq1,a,x\nq1,b,x\nq1,c,y\nq2,a,y\nq2,b,y\nq2,c,y\n"


def _call(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_aggregate_command(tmp_path: Path) -> None:
    src = tmp_path / "answers.csv"
    src.write_text(ANSWERS)
    out = tmp_path / "out.csv"
    text = _call("aggregate", str(src), "--method", "dawid-skene", "--rule", "3/3", "-o", str(out))
    assert "2 items" in text
    table = pd.read_csv(out, dtype=str).set_index("item")
    assert table.loc["q1", "status"] == "no_consensus" and table.loc["q2", "status"] == "accepted"


def test_agreement_command_json(tmp_path: Path) -> None:
    src = tmp_path / "answers.csv"
    src.write_text(ANSWERS)
    report = json.loads(_call("agreement", str(src), "--level", "nominal", "--json", "--bootstrap", "100"))
    assert set(report) >= {"alpha", "alpha_ci", "fleiss_kappa", "annotators"}
    assert "Krippendorff's alpha (nominal)" in _call("agreement", str(src), "--bootstrap", "50")


def test_plan_command_json() -> None:
    report = json.loads(_call("plan", "--accuracy", "0.8", "--classes", "2", "--rule", "2/3", "--json"))
    assert report["p_accept"] == pytest.approx(1.0)
    assert report["p_correct_given_accept"] == pytest.approx(0.896)
    assert report["expected_answers"] == pytest.approx(3.0)
    assert "expected_answers" in _call("plan", "--accuracy", "0.8", "--classes", "open", "--rule", "adaptive:2/3")


def test_commands_fail_with_clear_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(CommandError, match="empty"):
        _call("aggregate", str(empty), "-o", str(tmp_path / "o.csv"))
    one = tmp_path / "one.csv"
    one.write_text("item,annotator,label\nq1,a,x\nq2,a,y\n")
    with pytest.raises(CommandError, match="at least two annotators"):
        _call("agreement", str(one))
    with pytest.raises(CommandError, match="K \\(4\\) cannot exceed N \\(3\\)"):
        _call("plan", "--accuracy", "0.8", "--classes", "2", "--rule", "4/3")
