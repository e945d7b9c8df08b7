"""A lean dispatch for the two endpoints that run on every label (next-task, submit).

DRF's per-request machinery (request wrapper, authenticator, parser and permission instances,
content negotiation, template-response rendering) costs about as much CPU as the work these
endpoints do. For the plain case only — a token-authenticated POST with a JSON body, from a
member of the project named in the URL — ``LeanPost`` runs the view's ``handle`` directly and
renders the result with DRF's own JSON renderer and error handler, so the response is byte for
byte what DRF would send. Anything else (session authentication, another content type, a body
DRF would refuse, an unknown, revoked or pipeline token, a caller who is not a member) goes
through DRF unchanged, which then gives its usual answer or error.
"""

from __future__ import annotations

import json

from django.http import HttpResponse
from rest_framework.renderers import JSONRenderer

from annotators.authentication import TokenAuthentication, _token_with_user
from annotators.models import TokenKind, hash_token
from annotators.services import token_touch
from labeling.api.errors import exception_handler

_RENDERER = JSONRenderer()
_KEYWORDS = {k.lower() for k in TokenAuthentication.keywords}


def _reject_constant(value: str):
    raise ValueError(f"{value} is not valid JSON")


def _lean_caller(request, kwargs: dict):
    """(membership, parsed body) when this request may take the lean path, else None."""
    header = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(header) != 2 or header[0].lower() not in _KEYWORDS or not header[1].isascii():
        return None
    if request.content_type != "application/json":
        return None
    project_id = kwargs.get("project_id")
    if type(project_id) is not int or not 0 < project_id < 2**63:
        return None
    try:
        payload = json.loads(request.body, parse_constant=_reject_constant)  # as DRF's JSONParser
    except ValueError:
        return None
    token, membership = _token_with_user(hash_token(header[1]), project_id)
    if (token is None or token.revoked_at is not None or not token.user.is_active
            or token.kind == TokenKind.PIPELINE or membership is None):
        return None
    token_touch(token=token)
    return membership, payload


class LeanPost:
    """Mixin for an APIView whose ``handle(membership, payload) -> (body, status)`` does the
    POST's work; its ``post`` must call the same ``handle`` (the DRF path)."""

    def dispatch(self, request, *args, **kwargs):
        if request.method == "POST":
            caller = _lean_caller(request, kwargs)
            if caller is not None:
                return self._lean(request, *caller)
        return super().dispatch(request, *args, **kwargs)

    def _lean(self, request, membership, payload) -> HttpResponse:
        try:
            body, status = self.handle(membership, payload)
        except Exception as exc:  # noqa: BLE001 - DRF's handler decides, as on the DRF path
            response = exception_handler(exc, {"view": self, "request": request})
            if response is None:
                raise
            body, status = response.data, response.status_code
        out = HttpResponse(_RENDERER.render(body), status=status, content_type="application/json")
        out["Vary"] = "Accept"
        return out
