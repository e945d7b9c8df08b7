"""Core of the ``aggregate``, ``agreement`` and ``plan`` management commands (no Django here).

Input files are CSV with a header holding at least ``item,annotator,label``; every value is read
as a string, other columns are skipped. The native reader (:mod:`labeling.aggregation.native`, one
pass in C) reads the plain files (no quotes, valid UTF-8, LF or CRLF); anything else, and every
error, goes to the pyarrow reader (multithreaded; a column whose values come in runs, as the items
of a file grouped by item, is run-end encoded, the others are dictionary-encoded while parsing).
Both give the same codes. Problems with the input raise :class:`CLIError` with a message naming
the file, the column and the line (line 1 is the header).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from . import aggregate, method_name
from .agreement import LEVELS, annotator_agreement, fleiss_kappa, krippendorff_alpha
from . import native as native_reader
from .encoding import ANSWER_COLUMNS, RUN_SHARE, EncodedAnswers, encode, run_end_encode, table_with_codes
from .majority import majority_vote
from .planner import PlanResult, plan
from .quorum import STATUS_NAMES, QuorumRule, parse_rule, quorum_status

if TYPE_CHECKING:
    import pandas as pd  # imported where used: importing this module does not load pandas

OUTPUT_COLUMNS = ("item", "label", "confidence", "answers", "status")


class CLIError(Exception):
    """Bad input or arguments; the message is meant for the person running the command."""


def _first_bad_utf8_line(path: Path) -> int:
    """1-based line of the first byte sequence that is not valid UTF-8 (0 if none found)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data.count(b"\n", 0, exc.start) + 1
    return 0


def _first_ragged_line(path: Path) -> tuple[int, int, int]:
    """(line, fields found, fields expected) of the first row whose field count differs."""
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        for row in reader:
            if len(row) != len(header):
                return reader.line_num, len(row), len(header)
    return 0, 0, len(header)


def _convert_options(column_type: pa.DataType) -> pacsv.ConvertOptions:
    """How the answer columns are read as plain strings: every value a string (as before with
    pandas' pyarrow engine), only an empty field is missing ("NA", "None", "null" ... are ordinary
    values), other columns are not read at all."""
    return pacsv.ConvertOptions(
        column_types={c: column_type for c in ANSWER_COLUMNS},
        include_columns=list(ANSWER_COLUMNS),
        null_values=[""],
        strings_can_be_null=True,
    )


#: Dictionary-encoded while parsing (in parallel, one dictionary per block): the encoder then
#: only has to sort the distinct names instead of hashing every value again.
ENCODED_STRINGS = pa.dictionary(pa.int32(), pa.string())


def _encoded_options(plain_columns: Sequence[str] = ()) -> pacsv.ConvertOptions:
    """How the answer columns are read for encoding: dictionary-encoded, except ``plain_columns``,
    read as plain strings and encoded afterwards (see :func:`_column_plan`).

    Two per-value checks are left to the distinct values (dictionaries, run values), which hold
    every value of the column: UTF-8 validity (``check_utf8=False``) and empty fields (read as
    ``""``, not as missing). Same outcome, a fraction of the work.
    """
    return pacsv.ConvertOptions(
        column_types={c: pa.string() if c in plain_columns else ENCODED_STRINGS for c in ANSWER_COLUMNS},
        include_columns=list(ANSWER_COLUMNS),
        null_values=[],
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
        check_utf8=False,
    )


#: Bytes read from the start of a file to choose how each column is encoded (a few hundred rows).
_SAMPLE_BYTES = 1 << 14
_SAMPLE_READ = pacsv.ReadOptions(use_threads=False)

#: Share of distinct values in the sample above which a column is hashed once after reading
#: rather than per block while parsing (see :func:`_column_plan`).
_DISTINCT_SHARE = 0.5


def _column_plan(p: Path) -> dict[str, str]:
    """How to encode each answer column, judged on the first rows of the file (only a speed
    choice: any column reads correctly any way):

    ``"runs"``: values come in runs (at most ``RUN_SHARE`` runs per row, as the items of a file
    grouped by item): read plain, then run-end encoded; only the run values are looked at.
    ``"hash"``: mostly distinct values (the items of a shuffled file): read plain, then hashed
    once over the whole column; per-block dictionaries would hold nearly every value, and merging
    them hashes everything twice. ``"dictionary"`` (the rest, and whenever the sample cannot tell):
    dictionary-encoded per block while parsing, in parallel.
    """
    plan = {column: "dictionary" for column in ANSWER_COLUMNS}
    with p.open("rb") as handle:
        head = handle.read(_SAMPLE_BYTES)
    end = head.rfind(b"\n")
    if end < 0:
        return plan
    try:
        sample = pacsv.read_csv(pa.BufferReader(head[: end + 1]), read_options=_SAMPLE_READ,
                                convert_options=_convert_options(pa.string()))
    except (pa.ArrowException, KeyError, ValueError):  # cut inside a quoted field, a missing column...
        return plan
    rows = sample.num_rows
    if rows < 8 or any(c.null_count for c in sample.columns):
        return plan
    for column in ANSWER_COLUMNS:
        values = sample.column(column).combine_chunks()
        if 1 + pc.not_equal(values[1:], values[:-1]).true_count <= RUN_SHARE * rows:  # runs
            plan[column] = "runs"
        elif pc.count_distinct(values).as_py() > _DISTINCT_SHARE * rows:
            plan[column] = "hash"
    return plan


def _encode_plain(values: pa.ChunkedArray, how: str) -> pa.ChunkedArray:
    """A plain string column run-end encoded (``how="runs"``, when it does come in runs over the
    whole file) or else dictionary-encoded as one array (one dictionary for the whole column)."""
    try:
        whole = values.combine_chunks()
    except (pa.ArrowInvalid, pa.ArrowCapacityError):  # over 2 GB of text in one string array
        return pc.dictionary_encode(values)
    encoded = run_end_encode(whole) if how == "runs" else None
    return pa.chunked_array([pc.dictionary_encode(whole) if encoded is None else encoded])


def _distinct_carriers(column: pa.ChunkedArray) -> list[pa.Array]:
    """Arrays that hold every value of an encoded column: its dictionaries or its run values."""
    if pa.types.is_run_end_encoded(column.type):
        return [chunk.values for chunk in column.chunks]
    return [chunk.dictionary for chunk in column.chunks]


def _plain_strings(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A dictionary-encoded or run-end encoded string column as plain strings."""
    if pa.types.is_run_end_encoded(column.type):
        return pa.chunked_array([pc.run_end_decode(chunk) for chunk in column.chunks], type=column.type.value_type)
    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column


def _check_distinct(p: Path, table: pa.Table) -> None:
    """UTF-8 and empty-value checks of an encoded read, on the distinct values only (the
    dictionaries or run values of a column, joined into one array: a few kernel calls per column
    rather than a few per block)."""
    columns = [table.column(column) for column in ANSWER_COLUMNS]
    carriers = []
    for values in columns:
        parts = [part for part in _distinct_carriers(values) if len(part)]
        carriers.append(pa.concat_arrays(parts) if len(parts) > 1 else parts[0] if parts else None)
    try:
        for carrier in carriers:
            if carrier is not None:
                carrier.validate(full=True)  # checks UTF-8
    except pa.ArrowInvalid:
        line = _first_bad_utf8_line(p)
        raise CLIError(f"{p}: line {line} is not valid UTF-8 text; save the file as UTF-8") from None
    for column, values, carrier in zip(ANSWER_COLUMNS, columns, carriers):
        if carrier is not None and pc.min(pc.binary_length(carrier)).as_py() == 0:
            empty = pc.equal(_plain_strings(values), "").to_numpy(zero_copy_only=False)
            row = int(np.flatnonzero(empty)[0])
            raise CLIError(f"{p}: empty value in column '{column}' at line {row + 2}")


def _header_names(path: Path) -> list[str]:
    try:
        return pacsv.open_csv(path).schema.names
    except (pa.ArrowException, OSError):
        with path.open(newline="", encoding="utf-8", errors="replace") as handle:
            return next(csv.reader(handle), [])


def read_answer_table(path: str | Path, *, dictionary: bool = True, native: bool | None = None) -> pa.Table:
    """Read an answers CSV and check it.

    Returns an Arrow table with columns ``item, annotator, label`` of strings, encoded
    (``dictionary=True``, what :func:`labeling.aggregation.encode` is fastest on) or plain. Only
    an empty field is missing, and a missing value is an error.

    Encoded reads first try the native reader (:mod:`labeling.aggregation.native`: one pass in C
    that splits the rows and codes the three columns; the table's columns are then dictionaries
    over the sorted names, whose indices :func:`encode` takes as they are). ``native=False``, or
    ``QUORUM_NATIVE=0`` in the environment when ``native`` is None, skips it. Whatever it does not
    handle (quotes, invalid UTF-8, a ragged row, an empty value, a BOM, a header without the three
    columns...) and every error goes to pyarrow's reader (multithreaded): a column whose values
    come in runs, judged on the first rows, is run-end encoded, the others are
    dictionary-encoded, see :func:`_column_plan`. Both give the same codes.
    """
    p = Path(path)
    if not p.is_file():
        raise CLIError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise CLIError(f"{p}: the file is empty (expected a header line 'item,annotator,label')")
    if dictionary and (native_reader.enabled() if native is None else native and native_reader.library() is not None):
        parsed = native_reader.parse_file(p)
        if parsed is not None:
            return table_with_codes(parsed)
    plan = _column_plan(p) if dictionary else {}
    plain_columns = [column for column, how in plan.items() if how != "dictionary"]
    try:
        table = pacsv.read_csv(p, convert_options=_encoded_options(plain_columns) if dictionary
                               else _convert_options(pa.string()))
    except pa.ArrowKeyError:  # "Column 'label' in include_columns does not exist in CSV file"
        found_names = _header_names(p)
        missing = [c for c in ANSWER_COLUMNS if c not in found_names]
        found = ", ".join(map(str, found_names)) or "none"
        raise CLIError(
            f"{p}: missing column(s) {', '.join(missing)} (found: {found}); "
            f"the header must name item, annotator and label"
        ) from None
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        text = str(exc)
        if "Empty CSV file" in text:
            raise CLIError(f"{p}: the file is empty (expected a header line 'item,annotator,label')") from None
        if "UTF8" in text or "utf-8" in text.lower():
            line = _first_bad_utf8_line(p)
            raise CLIError(f"{p}: line {line} is not valid UTF-8 text; save the file as UTF-8") from None
        line, found, expected = _first_ragged_line(p)
        if line:
            raise CLIError(f"{p}: line {line} has {found} fields, the header has {expected}") from None
        raise CLIError(f"{p}: cannot parse as CSV: {text}") from None
    if table.num_rows == 0:
        raise CLIError(f"{p}: no answers (the file has only a header)")
    if dictionary:
        for column in plain_columns:
            table = table.set_column(
                table.schema.get_field_index(column), column, _encode_plain(table.column(column), plan[column])
            )
        _check_distinct(p, table)
        return table
    for column in ANSWER_COLUMNS:
        values = table.column(column)
        if values.null_count:
            row = int(np.flatnonzero(pc.is_null(values).to_numpy(zero_copy_only=False))[0])
            raise CLIError(f"{p}: empty value in column '{column}' at line {row + 2}")
    return table


def read_answers(path: str | Path) -> pd.DataFrame:
    """Read an answers CSV as strings and check it; returns columns ``item, annotator, label``
    (pandas string columns; see :func:`read_answer_table` for the faster Arrow form)."""
    return read_answer_table(path, dictionary=False).to_pandas()


def _rule_with_max(rule: str | None, max_answers: int | None) -> QuorumRule | None:
    if rule is None:
        if max_answers is not None:
            raise CLIError("--max-answers needs --rule")
        return None
    try:
        parsed = parse_rule(rule)
        if max_answers is not None:
            parsed = dataclasses.replace(
                parsed, max_answers=max_answers, min_answers=min(parsed.min_answers, max_answers)
            )
    except ValueError as exc:
        raise CLIError(f"bad --rule/--max-answers: {exc}") from None
    return parsed


def run_aggregate(
    path: str | Path,
    method: str,
    output: str | Path,
    *,
    rule: str | None = None,
    max_answers: int | None = None,
) -> dict[str, Any]:
    """Aggregate an answers file and write ``item,label,confidence,answers,status``.

    ``label`` is the method's consensus, ``confidence`` its posterior probability, ``answers``
    the number of answers on the item. ``status``: without ``rule`` every item is
    ``accepted`` (every listed item has at least one answer and gets a label); with a rule
    (see :func:`labeling.aggregation.parse_rule`; ``max_answers`` overrides its N), the rule is
    applied to the item's votes: accepted when the method's label has at least K votes (or, for
    ``confidence:`` rules, its confidence reaches the target), ``no_consensus`` when the rule can
    no longer be met within the maximum, otherwise ``needs_more``. Rows are sorted by item.

    Returns a summary: items, answers, annotators, labels, method, status counts.
    """
    try:
        name = method_name(method)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    quorum = _rule_with_max(rule, max_answers)
    enc = encode(read_answer_table(path))
    result = aggregate(name, **enc.arrays())
    if quorum is None:
        status = np.zeros(enc.n_items, dtype=np.int8)
    else:
        chosen_votes = result.counts[np.arange(enc.n_items), result.labels]
        status = quorum_status(
            quorum, result.n_answers, result.counts.max(axis=1), chosen_votes, result.confidence
        )
    table = pa.table(
        {
            "item": enc.names_arrow("item"),  # every listed item has answers, so a label
            "label": enc.names_of("label", result.labels),
            "confidence": pa.array(np.round(result.confidence, 6)),
            "answers": pa.array(result.n_answers),
            "status": pa.array(np.asarray(STATUS_NAMES, dtype=object)[status], type=pa.string()),
        }
    )
    out = Path(output)
    try:
        pacsv.write_csv(table, out, pacsv.WriteOptions(quoting_style="needed"))
    except OSError as exc:
        raise CLIError(f"{out}: cannot write output: {exc}") from None
    names, counts = np.unique(status, return_counts=True)
    return {
        "method": name,
        "rule": None if quorum is None else str(quorum),
        "items": enc.n_items,
        "answers": int(enc.items.size),
        "annotators": enc.n_annotators,
        "labels": enc.n_classes,
        "status": {STATUS_NAMES[int(s)]: int(c) for s, c in zip(names, counts)},
        "output": str(out),
    }


def _numeric_labels(answers: pa.Table, path: str | Path, level: str) -> np.ndarray:
    import pandas as pd

    labels = pd.Series(_plain_strings(answers.column("label")).to_pandas())
    values = pd.to_numeric(labels, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise CLIError(
            f"{path}: label {labels.iloc[row]!r} at line {row + 2} is not a number; "
            f"level '{level}' needs numeric labels (use --level nominal for categories)"
        )
    if level == "ratio" and (values < 0).any():
        row = int(np.flatnonzero(values < 0)[0])
        raise CLIError(f"{path}: label at line {row + 2} is negative; ratio data must be >= 0")
    return values


def _finite_or_none(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def run_agreement(
    path: str | Path, level: str = "nominal", *, n_boot: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Agreement report: Krippendorff's alpha (with bootstrap 95% interval), Fleiss' kappa over
    the labels as categories, and each annotator's agreement with the majority-vote consensus.

    The dictionary is JSON-ready (NaN becomes None).
    """
    if level not in LEVELS:
        raise CLIError(f"--level must be one of {', '.join(LEVELS)}, got {level!r}")
    answers = read_answer_table(path)
    enc: EncodedAnswers = encode(answers)
    if enc.n_annotators < 2:
        raise CLIError(
            f"{path}: agreement needs answers from at least two annotators; "
            f"found only {enc.annotator_names[0]!r}"
        )
    values = enc.labels if level == "nominal" else _numeric_labels(answers, path, level)
    try:
        alpha = krippendorff_alpha(enc.items, values, n_items=enc.n_items, level=level, n_boot=n_boot, seed=seed)
    except ValueError as exc:
        raise CLIError(f"{path}: cannot compute alpha: {exc}") from None
    mv = majority_vote(**enc.arrays())
    share, compared = annotator_agreement(enc.items, enc.annotators, enc.labels, mv.labels, enc.n_annotators)
    return {
        "level": level,
        "alpha": _finite_or_none(alpha.alpha),
        "alpha_ci": [_finite_or_none(alpha.ci_low), _finite_or_none(alpha.ci_high)],
        "bootstrap": {"resamples": n_boot, "seed": seed, "unit": "item"},
        "fleiss_kappa": _finite_or_none(fleiss_kappa(mv.counts)),
        "items": enc.n_items,
        "pairable_items": alpha.n_units,
        "answers": int(enc.items.size),
        "annotators": [
            {"annotator": str(name), "answers": int(n), "agreement": _finite_or_none(s)}
            for name, n, s in zip(enc.annotator_names, compared, share)
        ],
    }


def format_agreement(report: dict[str, Any]) -> str:
    """Human-readable form of :func:`run_agreement`'s report."""

    def num(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.4f}"

    lo, hi = report["alpha_ci"]
    lines = [
        f"Krippendorff's alpha ({report['level']}): {num(report['alpha'])}  "
        f"95% CI [{num(lo)}, {num(hi)}]  ({report['bootstrap']['resamples']} bootstrap resamples of items)",
        f"Fleiss' kappa: {num(report['fleiss_kappa'])}",
        f"{report['answers']} answers, {report['items']} items ({report['pairable_items']} with 2+ answers), "
        f"{len(report['annotators'])} annotators",
        "",
        "annotator\tanswers\tagreement with majority",
    ]
    lines += [f"{a['annotator']}\t{a['answers']}\t{num(a['agreement'])}" for a in report["annotators"]]
    return "\n".join(lines)


def parse_accuracy(text: str | float | Sequence[float]) -> float | list[float]:
    """``"0.8"`` -> 0.8; ``"0.7,0.9"`` -> per-answer-position accuracies."""
    if not isinstance(text, str):
        return text  # type: ignore[return-value]
    try:
        parts = [float(x) for x in text.split(",")]
    except ValueError:
        raise CLIError(f"--accuracy must be a number or comma-separated numbers, got {text!r}") from None
    return parts[0] if len(parts) == 1 else parts


def run_plan(accuracy: str | float | Sequence[float], classes: str | int, rule: str) -> PlanResult:
    """Exact planner figures for a rule (see :func:`labeling.aggregation.plan`)."""
    try:
        return plan(rule, parse_accuracy(accuracy), classes)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def format_plan(result: PlanResult) -> str:
    """Human-readable form of a :class:`PlanResult`."""
    classes = "open (free text)" if result.n_classes is None else str(result.n_classes)
    return "\n".join(
        [
            f"rule {result.rule}, accuracy {result.accuracy}, classes {classes}",
            f"p_accept               {result.p_accept:.6f}",
            f"p_correct_given_accept {result.p_correct_given_accept:.6f}",
            f"p_correct              {result.p_correct:.6f}",
            f"p_no_consensus         {result.p_no_consensus:.6f}",
            f"expected_answers       {result.expected_answers:.6f}",
        ]
    )


def to_json(data: dict[str, Any]) -> str:
    """JSON text (no NaN: values must already be finite or None)."""
    return json.dumps(data, indent=2, allow_nan=False)
