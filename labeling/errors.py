"""One domain error type. The API maps it to ``{"errors": [{"field", "message"}]}`` with its status."""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field


@dataclass
class FieldError:
    field: str | None
    message: str
    line: int | None = None

    def as_dict(self) -> dict:
        out: dict = {"field": self.field, "message": self.message}
        if self.line is not None:
            out["line"] = self.line
        return out


@dataclass
class DomainError(Exception):
    """A refusal that a caller can act on. ``errors`` name the field (or file line) and the problem."""

    errors: list[FieldError] = dc_field(default_factory=list)
    status: int = 400
    code: str = "invalid"

    @classmethod
    def single(cls, field: str | None, message: str, *, status: int = 400, code: str = "invalid",
               line: int | None = None) -> "DomainError":
        return cls([FieldError(field, message, line)], status=status, code=code)

    def __str__(self) -> str:
        return "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in self.errors)


def parse_id(raw: str | None) -> int | None:
    """A query parameter as a database id (ASCII digits, below 2**63), or None. ``str.isdigit``
    alone also accepts digits like "²" that ``int`` refuses, and ids beyond 64 bits overflow the
    database's integer type: both would be server errors."""
    if not raw or not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        return None
    value = int(raw)
    return value if value < 2**63 else None
