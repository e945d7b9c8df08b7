"""Label Studio JSON interop: read a Label Studio export as items and answers, write a version in
Label Studio's task format.

Label Studio's JSON export is an array of tasks::

    {"id": 1, "data": {"text": "..."},
     "annotations": [{"id": 1001, "completed_by": 10 | {"id": 10, "email": "..."},
                      "result": [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                                  "value": {"choices": ["Positive"]}}],
                      "was_cancelled": false, "ground_truth": false, "lead_time": 4.2, ...}],
     "predictions": [...], ...}

Import (``labelstudio_import``): each task becomes an item (external id: ``meta.external_id`` when
the file came from Quorum, else the task id), each annotation an answer by the person in
``completed_by``; cancelled annotations and predictions are skipped; a ``ground_truth`` annotation
also makes the item a gold item with that answer. People are matched to Quorum annotators through
an inactive user named ``labelstudio:<email or id>`` (no password, cannot log in). One person's
several annotations of a task keep the last one. All or nothing.

Export (``write_labelstudio``): one task per row, with the row's label as one annotation
(``ground_truth`` for gold rows) and Quorum's figures under ``meta``; importing it into a Label
Studio project with the config from ``labelstudio_config`` shows the labels as annotations. The
annotation has no ``completed_by`` (Label Studio gives it to the user who imports the file; Quorum
gives annotations without one to the annotator ``labelstudio:anonymous``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import quoteattr

from labeling.exports.writers import FileResult, HashingWriter, data_of

RESULT_TYPES = {"single": "choices", "multi": "choices", "rating": "rating", "text": "textarea"}
LS_USER_PREFIX = "labelstudio:"
ANONYMOUS = "anonymous"


# --- Reading ---------------------------------------------------------------------------------------

@dataclass
class LsAnswer:
    external_id: str
    person: str
    value: Any
    seconds: float | None
    ground_truth: bool


@dataclass
class LsParsed:
    items: list[dict[str, Any]]
    answers: list[LsAnswer]
    skipped_cancelled: int = 0
    skipped_predictions: int = 0
    skipped_empty: int = 0


class LabelStudioError(ValueError):
    """A problem in the Label Studio file, with the task it is in."""


def person_of(completed_by: Any) -> str:
    """A stable name for the annotator of a Label Studio annotation."""
    if isinstance(completed_by, dict):
        who = completed_by.get("email") or completed_by.get("id")
        if who in (None, ""):
            raise LabelStudioError("completed_by has neither an email nor an id")
        return str(who)
    if completed_by is None:
        return ANONYMOUS  # e.g. a file Quorum wrote: its labels are decisions, not one person's
    if isinstance(completed_by, bool):
        raise LabelStudioError("completed_by is not a user")
    return str(completed_by)


def value_of(result: list[dict[str, Any]], schema_kind: str, from_name: str | None) -> Any:
    """The answer in an annotation's result list, in Quorum's form for the schema kind."""
    wanted = RESULT_TYPES[schema_kind]
    for region in result:
        if from_name is not None and region.get("from_name") != from_name:
            continue
        if from_name is None and region.get("type") != wanted:
            continue
        value = region.get("value") or {}
        if schema_kind in ("single", "multi"):
            choices = value.get("choices")
            if not isinstance(choices, list):
                raise LabelStudioError(f"result {region.get('from_name')!r} has no choices")
            if schema_kind == "single":
                if len(choices) != 1:
                    raise LabelStudioError(f"a single-choice answer needs exactly one choice, got {choices!r}")
                return choices[0]
            return choices
        if schema_kind == "rating":
            if "rating" not in value:
                raise LabelStudioError(f"result {region.get('from_name')!r} has no rating")
            return value["rating"]
        text = value.get("text")
        if isinstance(text, list):
            return "\n".join(str(t) for t in text)
        if isinstance(text, str):
            return text
        raise LabelStudioError(f"result {region.get('from_name')!r} has no text")
    return None


def parse_tasks(tasks: Any, *, schema_kind: str, from_name: str | None = None) -> LsParsed:
    """Check a Label Studio export and turn it into item dicts and answers (no database)."""
    if not isinstance(tasks, list):
        raise LabelStudioError("a Label Studio JSON export is an array of tasks")
    parsed = LsParsed(items=[], answers=[])
    seen: set[str] = set()
    for index, task in enumerate(tasks, start=1):
        where = f"task {index}"
        try:
            if not isinstance(task, dict):
                raise LabelStudioError("is not an object")
            data = task.get("data")
            if not isinstance(data, dict) or not data:
                raise LabelStudioError("has no data object")
            meta = task.get("meta") if isinstance(task.get("meta"), dict) else {}
            external_id = meta.get("external_id") or task.get("id")
            if external_id in (None, ""):
                raise LabelStudioError("has no id")
            external_id = str(external_id)
            where = f"task {index} (id {external_id})"
            if external_id in seen:
                raise LabelStudioError("appears twice")
            seen.add(external_id)
            gold = None
            for annotation in task.get("annotations") or []:
                if not isinstance(annotation, dict):
                    raise LabelStudioError("has an annotation that is not an object")
                if annotation.get("was_cancelled"):
                    parsed.skipped_cancelled += 1
                    continue
                value = value_of(annotation.get("result") or [], schema_kind, from_name)
                if value is None:
                    parsed.skipped_empty += 1
                    continue
                lead_time = annotation.get("lead_time")
                seconds = float(lead_time) if isinstance(lead_time, (int, float)) and lead_time >= 0 else None
                ground_truth = bool(annotation.get("ground_truth"))
                parsed.answers.append(LsAnswer(external_id, person_of(annotation.get("completed_by")), value,
                                               seconds, ground_truth))
                if ground_truth:
                    gold = value
            parsed.skipped_predictions += len(task.get("predictions") or [])
        except LabelStudioError as exc:
            raise LabelStudioError(f"{where}: {exc}") from None
        item: dict[str, Any] = {"external_id": external_id, "data": data}
        if gold is not None:
            item["gold"] = gold
        parsed.items.append(item)
    return parsed


def load_tasks(stream: IO[bytes]) -> Any:
    try:
        return json.load(stream)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LabelStudioError(f"the file is not JSON: {exc}") from None


# --- Writing ---------------------------------------------------------------------------------------

def to_name_for(columns: Iterable[str]) -> str:
    """The object tag the labels point at: ``text`` if the items have it, else their first field."""
    fields = [c for c in columns if c not in ("item_id", "external_id", "label", "confidence", "source",
                                              "answers", "agreement")]
    names = [f[5:] if f.startswith("data.") else f for f in fields]
    return "text" if "text" in names or not names else names[0]


def task_of(row: dict[str, Any], *, split: str, schema_kind: str, from_name: str, to_name: str) -> dict[str, Any]:
    label = row["label"]
    kind = RESULT_TYPES.get(schema_kind, "choices")
    if kind == "choices":
        value = {"choices": label if isinstance(label, list) else [label]}
    elif kind == "rating":
        value = {"rating": label}
    else:
        value = {"text": [label if isinstance(label, str) else json.dumps(label)]}
    item_id = row["item_id"]
    return {
        "id": item_id,
        "data": data_of(row),
        "meta": {"external_id": row["external_id"], "split": split, "source": row["source"],
                 "confidence": row["confidence"], "answers": row["answers"], "agreement": row["agreement"]},
        "annotations": [{
            "id": item_id,
            "result": [{"id": f"q{item_id}", "from_name": from_name, "to_name": to_name, "type": kind,
                        "value": value, "origin": "manual"}],
            "was_cancelled": False,
            "ground_truth": row["source"] == "gold",
        }],
        "predictions": [],
    }


def write_labelstudio(rows: Iterable[dict[str, Any]], path: Path, *, split: str, schema_kind: str,
                      to_name: str, from_name: str = "label") -> FileResult:
    """A JSON array of Label Studio tasks, one per row, written as rows come."""
    out = HashingWriter(path)
    count = 0
    out.write(b"[")
    for row in rows:
        task = task_of(row, split=split, schema_kind=schema_kind, from_name=from_name, to_name=to_name)
        out.write((b"\n" if count == 0 else b",\n") + json.dumps(task, ensure_ascii=False,
                                                                 separators=(",", ":")).encode())
        count += 1
    out.write(b"\n]\n")
    out.close()
    return FileResult(out.hexdigest(), out.size, count)


def labelstudio_config(*, schema_kind: str, choices: list[str], scale_max: int | None, to_name: str = "text",
                       from_name: str = "label") -> str:
    """A Label Studio labeling config matching a Quorum project (for importing the exported tasks)."""
    obj = f'  <Text name={quoteattr(to_name)} value={quoteattr("$" + to_name)}/>'
    if schema_kind in ("single", "multi"):
        kind = "single" if schema_kind == "single" else "multiple"
        options = "\n".join(f"    <Choice value={quoteattr(c)}/>" for c in choices)
        control = (f"  <Choices name={quoteattr(from_name)} toName={quoteattr(to_name)} choice=\"{kind}\">\n"
                   f"{options}\n  </Choices>")
    elif schema_kind == "rating":
        control = f"  <Rating name={quoteattr(from_name)} toName={quoteattr(to_name)} maxRating=\"{scale_max or 5}\"/>"
    else:
        control = f"  <TextArea name={quoteattr(from_name)} toName={quoteattr(to_name)}/>"
    return f"<View>\n{obj}\n{control}\n</View>\n"
