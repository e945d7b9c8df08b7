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
