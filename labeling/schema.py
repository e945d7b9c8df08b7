"""Label schemas and quorum rules: validation of a project's settings and of answer values.

Pure functions (no ORM) so that the API, the import and the answer path share one definition of
"a valid answer". Values are stored in a canonical form:

- single choice: the choice string;
- multiple choice: the sorted list of distinct choice strings (may be empty: "none apply");
- rating: an integer within [scale_min, scale_max];
- free text: the text as typed (normalisation is applied when answers are compared, so what the
  annotator typed is never lost).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

KINDS = ("single", "multi", "rating", "text")
RULE_KINDS = ("k_of_n", "escalate", "confidence")
NORMALIZERS = ("trim", "lowercase", "strip_at", "collapse_whitespace")
MAX_TEXT_ANSWER = 2000

_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class LabelSchema:
    kind: str
    choices: tuple[str, ...] = ()
    scale_min: int | None = None
    scale_max: int | None = None
    text_normalization: tuple[str, ...] = ()

    @classmethod
    def of(cls, project: Any) -> "LabelSchema":
        return cls(
            kind=project.schema_kind,
            choices=tuple(project.choices or ()),
            scale_min=project.scale_min,
            scale_max=project.scale_max,
            text_normalization=tuple(project.text_normalization or ()),
        )


def normalize_text(value: str, steps: tuple[str, ...] | list[str]) -> str:
    """Apply the project's free-text normalisation steps, in order."""
    for step in steps:
        if step == "trim":
            value = value.strip()
        elif step == "lowercase":
            value = value.lower()
        elif step == "strip_at":
            value = value.strip()
            value = value[1:] if value.startswith("@") else value
        elif step == "collapse_whitespace":
            value = _WS.sub(" ", value).strip()
    return value


def clean_answer(schema: LabelSchema, value: Any) -> Any:
    """Return the canonical form of an answer value, or raise ValueError saying what is wrong."""
    if schema.kind == "single":
        if not isinstance(value, str):
            raise ValueError(f"expected one of {list(schema.choices)}, got {value!r}")
        if value not in schema.choices:
            raise ValueError(f"{value!r} is not one of the choices {list(schema.choices)}")
        return value
    if schema.kind == "multi":
        if isinstance(value, str):
            value = [part for part in value.split("|") if part != ""]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"expected a list of choices from {list(schema.choices)}, got {value!r}")
        unknown = [v for v in value if v not in schema.choices]
        if unknown:
            raise ValueError(f"{unknown!r} not among the choices {list(schema.choices)}")
        return sorted(set(value))
    if schema.kind == "rating":
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise ValueError(f"expected a whole number from {schema.scale_min} to {schema.scale_max}, got {value!r}") from None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number from {schema.scale_min} to {schema.scale_max}, got {value!r}")
        if not (schema.scale_min <= value <= schema.scale_max):
            raise ValueError(f"{value} is outside the scale {schema.scale_min}..{schema.scale_max}")
        return value
    if schema.kind == "text":
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {value!r}")
        if normalize_text(value, ("trim",)) == "":
            raise ValueError("the answer is empty")
        if len(value) > MAX_TEXT_ANSWER:
            raise ValueError(f"the answer is {len(value)} characters; at most {MAX_TEXT_ANSWER} are allowed")
        if "\x00" in value:
            raise ValueError("the answer contains a NUL character (\\u0000), which cannot be stored; remove it")
        return value
    raise ValueError(f"unknown schema kind {schema.kind!r}")


def answer_key(schema: LabelSchema, value: Any) -> str:
    """The category an answer counts as when votes are compared (normalised text, sets as a key)."""
    if schema.kind == "text":
        return normalize_text(value, schema.text_normalization)
    if schema.kind == "multi":
        return "|".join(sorted(value))
    return str(value)


def validate_project_settings(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Check a project's schema and rule as a whole. Returns (field, message) pairs, empty if valid.

    The database has check constraints for the same rules; this gives a message a person can act on.
    """
    errors: list[tuple[str, str]] = []
    kind = data.get("schema_kind")
    choices = data.get("choices") or []
    if kind not in KINDS:
        errors.append(("schema_kind", f"must be one of {', '.join(KINDS)}"))
    if kind in ("single", "multi"):
        if not isinstance(choices, list) or not choices:
            errors.append(("choices", f"a {kind}-choice schema needs at least one choice"))
        elif not all(isinstance(c, str) and c.strip() for c in choices):
            errors.append(("choices", "every choice must be a non-empty string"))
        elif len(set(choices)) != len(choices):
            dupes = sorted({c for c in choices if choices.count(c) > 1})
            errors.append(("choices", f"choices must be distinct; repeated: {dupes}"))
        elif any("|" in c for c in choices) and kind == "multi":
            errors.append(("choices", "multiple-choice values may not contain '|'"))
    elif choices:
        errors.append(("choices", f"a {kind} schema takes no choices"))
    if kind == "rating":
        lo, hi = data.get("scale_min"), data.get("scale_max")
        if lo is None or hi is None:
            errors.append(("scale_min", "a rating scale needs scale_min and scale_max"))
        elif lo >= hi:
            errors.append(("scale_max", f"must be greater than scale_min ({lo})"))
    steps = data.get("text_normalization") or []
    if not isinstance(steps, list) or any(s not in NORMALIZERS for s in steps):
        errors.append(("text_normalization", f"steps must be among {', '.join(NORMALIZERS)}"))

    rule = data.get("rule_kind")
    k, lo_n, hi_n = data.get("agree_k"), data.get("min_answers"), data.get("max_answers")
    if rule not in RULE_KINDS:
        errors.append(("rule_kind", f"must be one of {', '.join(RULE_KINDS)}"))
    if lo_n is not None and hi_n is not None and lo_n > hi_n:
        errors.append(("min_answers", f"minimum answers ({lo_n}) is more than the maximum ({hi_n})"))
    if k is not None and hi_n is not None and k > hi_n:
        errors.append(("agree_k", f"{k} agreeing answers can never be reached with at most {hi_n} answers"))
    if k is not None and k < 1:
        errors.append(("agree_k", "must be at least 1"))
    if rule == "escalate":
        after, k2 = data.get("escalate_after"), data.get("escalate_k")
        if after is None or k2 is None:
            errors.append(("escalate_after", "an escalating rule needs escalate_after and escalate_k"))
        else:
            if k is not None and k > after:
                errors.append(("agree_k", f"{k} agreeing answers can never be reached in the first {after}"))
            if hi_n is not None and after >= hi_n:
                errors.append(("escalate_after", f"must be fewer than max_answers ({hi_n}) to leave room to escalate"))
            if hi_n is not None and k2 > hi_n:
                errors.append(("escalate_k", f"{k2} agreeing answers can never be reached with at most {hi_n}"))
            if k2 < 1:
                errors.append(("escalate_k", "must be at least 1"))
    if rule == "confidence":
        target = data.get("confidence_target")
        if target is None or not (0 < target < 1):
            errors.append(("confidence_target", "a confidence rule needs a target strictly between 0 and 1"))
    gold_rate = data.get("gold_rate")
    if gold_rate is not None and not (0 <= gold_rate <= 1):
        errors.append(("gold_rate", "must be between 0 and 1"))
    return errors
