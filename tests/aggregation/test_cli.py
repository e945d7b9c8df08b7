"""The command-line core (labeling.aggregation.cli), without Django."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from labeling.aggregation.cli import CLIError, read_answers, run_aggregate, run_agreement, run_plan, to_json

ANSWERS = "item,annotator,label\n" + "".join(
    f"{item},{ann},{label}\n"
    for item, ann, label in [
        ("q1", "ann", "cat"), ("q1", "bob", "cat"), ("q1", "cy", "dog"),
        ("q2", "ann", "dog"), ("q2", "bob", "dog"), ("q2", "cy", "dog"),
        ("q3", "ann", "cat"), ("q3", "bob", "dog"),
        ("007", "ann", "cat"),
    ]
)


def _write(tmp_path: Path, text: str | bytes, name: str = "answers.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


@pytest.mark.parametrize("method", ["majority", "weighted", "dawid-skene", "one-coin"])
def test_aggregate_writes_one_row_per_item(tmp_path: Path, method: str) -> None:
    out = tmp_path / "out.csv"
    summary = run_aggregate(_write(tmp_path, ANSWERS), method, out)
    table = pd.read_csv(out, dtype=str)
    assert list(table.columns) == ["item", "label", "confidence", "answers", "status"]
    assert table["item"].tolist() == ["007", "q1", "q2", "q3"]  # kept as strings, sorted
    assert (table["status"] == "accepted").all()
    assert table.set_index("item").loc["q2", "label"] == "dog"
    assert summary["items"] == 4 and summary["answers"] == 9


def test_aggregate_with_rule(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    summary = run_aggregate(_write(tmp_path, ANSWERS), "majority", out, rule="adaptive:2/3")
    status = pd.read_csv(out, dtype=str).set_index("item")["status"].to_dict()
    assert status == {"007": "needs_more", "q1": "accepted", "q2": "accepted", "q3": "needs_more"}
    run_aggregate(_write(tmp_path, ANSWERS), "majority", out, rule="adaptive:3/3")
    status = pd.read_csv(out, dtype=str).set_index("item")["status"].to_dict()
    assert status == {"007": "needs_more", "q1": "no_consensus", "q2": "accepted", "q3": "no_consensus"}
    run_aggregate(_write(tmp_path, ANSWERS), "majority", out, rule="adaptive:3/3", max_answers=5)
    assert pd.read_csv(out, dtype=str).set_index("item").loc["q1", "status"] == "needs_more"
    assert summary["rule"] == "adaptive:2/3"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"item,annotator,label\n", "only a header"),
        (b"item,annotator\nq1,ann\n", "missing column.* label"),
        (b"item,annotator,label\nq1,ann,cat\nq1,,dog\n", "empty value in column 'annotator' at line 3"),
        (b"item,annotator,label\nq1,ann,cat\nq2,bob,d\xffg\n", "line 3 is not valid UTF-8"),
        (b"item,annotator,label\nq1,ann,cat\nq1,bob,cat,extra\n", "line 3 has 4 fields, the header has 3"),
    ],
)
def test_bad_input_is_named(tmp_path: Path, content: bytes, message: str) -> None:
    with pytest.raises(CLIError, match=message):
        read_answers(_write(tmp_path, content))


def test_values_that_look_missing_are_kept(tmp_path: Path) -> None:
    table = read_answers(_write(tmp_path, "item,annotator,label\nnull,a,NA\nnull,b,None\nN/A,c,nan\n"))
    assert table.values.tolist() == [["null", "a", "NA"], ["null", "b", "None"], ["N/A", "c", "nan"]]


def test_missing_file_and_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(CLIError, match="no such file"):
        read_answers(tmp_path / "nope.csv")
    with pytest.raises(CLIError, match="unknown method"):
        run_aggregate(_write(tmp_path, ANSWERS), "glad", tmp_path / "o.csv")
    with pytest.raises(CLIError, match="bad --rule"):
        run_aggregate(_write(tmp_path, ANSWERS), "majority", tmp_path / "o.csv", rule="5/3")
    with pytest.raises(CLIError, match="needs --rule"):
        run_aggregate(_write(tmp_path, ANSWERS), "majority", tmp_path / "o.csv", max_answers=3)


def test_agreement_report(tmp_path: Path) -> None:
    report = run_agreement(_write(tmp_path, ANSWERS), "nominal", n_boot=200)
    assert report["alpha_ci"][0] <= report["alpha"] <= report["alpha_ci"][1]
    assert report["pairable_items"] == 3
    by_name = {a["annotator"]: a for a in report["annotators"]}
    assert by_name["cy"]["agreement"] == pytest.approx(0.5)  # majority: q1 cat, q2 dog
    assert json.loads(to_json(report))["fleiss_kappa"] == pytest.approx(report["fleiss_kappa"])


def test_agreement_errors(tmp_path: Path) -> None:
    with pytest.raises(CLIError, match="at least two annotators; found only 'ann'"):
        run_agreement(_write(tmp_path, "item,annotator,label\nq1,ann,1\nq1,ann,2\n"))
    with pytest.raises(CLIError, match="'cat' at line 2 is not a number"):
        run_agreement(_write(tmp_path, ANSWERS), "interval")
    with pytest.raises(CLIError, match="level"):
        run_agreement(_write(tmp_path, ANSWERS), "cardinal")


def test_agreement_numeric_levels(tmp_path: Path) -> None:
    text = "item,annotator,label\n" + "".join(
        f"u{u},{c},{v}\n" for u, c, v in [(1, "a", 1), (1, "b", 2), (2, "a", 4), (2, "b", 4), (3, "a", 2), (3, "b", 3)]
    )
    for level in ("ordinal", "interval", "ratio"):
        report = run_agreement(_write(tmp_path, text), level, n_boot=50)
        assert -1.0 <= report["alpha"] <= 1.0


def test_plan() -> None:
    result = run_plan("0.8", "2", "adaptive:2/3")
    assert result.expected_answers == pytest.approx(2.32)
    assert run_plan("0.9,0.6", "open", "adaptive:2/3").n_classes is None
    with pytest.raises(CLIError, match="--accuracy"):
        run_plan("high", "2", "2/3")
    with pytest.raises(CLIError, match="cannot parse rule"):
        run_plan("0.8", "2", "two/three")
