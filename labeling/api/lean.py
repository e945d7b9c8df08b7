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
import re

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
    # The token first: nobody gets the body parsed without a valid one (DRF answers them).
    token, membership = _token_with_user(hash_token(header[1]), project_id)
    if (token is None or token.revoked_at is not None or not token.user.is_active
            or token.kind == TokenKind.PIPELINE or membership is None):
        return None
    try:
        payload = json.loads(request.body, parse_constant=_reject_constant)  # as DRF's JSONParser
    except (ValueError, RecursionError):
        return None
    token_touch(token=token)
    return membership, payload


def _respond(view, request, membership, payload) -> HttpResponse:
    try:
        body, status = view.handle(membership, payload)
    except Exception as exc:  # noqa: BLE001 - DRF's handler decides, as on the DRF path
        response = exception_handler(exc, {"view": view, "request": request})
        if response is None:
            raise
        body, status = response.data, response.status_code
    out = HttpResponse(_RENDERER.render(body), status=status, content_type="application/json")
    out["Vary"] = "Accept"
    return out


class LeanPost:
    """Mixin for an APIView whose ``handle(membership, payload) -> (body, status)`` does the
    POST's work; its ``post`` must call the same ``handle`` (the DRF path)."""

    def dispatch(self, request, *args, **kwargs):
        # The middleware already tried (and declined) this request: don't read the token again.
        if request.method == "POST" and not getattr(request, "_lean_declined", False):
            caller = _lean_caller(request, kwargs)
            if caller is not None:
                return _respond(self, request, *caller)
        return super().dispatch(request, *args, **kwargs)


# As the URLconf's <int:project_id> ([0-9]+) would match, without a trailing newline; ids beyond
# 19 digits go to the URLconf (and are 404s there).
_LEAN_PATH = re.compile(r"/api/v1/projects/([0-9]{1,19})/(next-task|answers)")


class LeanMiddleware:
    """First in MIDDLEWARE: the lean path before the rest of the middleware stack and URL
    resolution, for exactly the requests ``LeanPost`` would take (a POST to one of the two
    paths, with a token, a JSON body and a member caller). Such a request needs none of the
    session, CSRF, message or static-file middleware; the headers the security and
    clickjacking middleware would add are added here. Every other request passes through."""

    def __init__(self, get_response):
        self.get_response = get_response
        from labeling.api.workflow import AnswerListSubmit, NextTask

        from django.conf import settings

        self.views = {"next-task": NextTask, "answers": AnswerListSubmit}
        self.headers = _security_headers()
        # HTTPS redirects and HSTS stay with SecurityMiddleware: with either on, no shortcut.
        self.enabled = not (settings.SECURE_SSL_REDIRECT or settings.SECURE_HSTS_SECONDS)

    def __call__(self, request):
        if self.enabled and request.method == "POST":
            match = _LEAN_PATH.fullmatch(request.path_info)
            if match is not None:
                request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware checks it (400 otherwise)
                caller = _lean_caller(request, {"project_id": int(match[1])})
                request._lean_declined = caller is None
                if caller is not None:
                    response = _respond(self.views[match[2]], request, *caller)
                    for name, value in self.headers:
                        response.headers.setdefault(name, value)
                    response["Content-Length"] = str(len(response.content))
                    return response
        return self.get_response(request)


def _security_headers() -> list[tuple[str, str]]:
    """What SecurityMiddleware and XFrameOptionsMiddleware add to a response, per settings."""
    from django.conf import settings

    headers = []
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        policy = settings.SECURE_REFERRER_POLICY
        headers.append(("Referrer-Policy", policy if isinstance(policy, str) else ",".join(policy)))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    headers.append(("X-Frame-Options", getattr(settings, "X_FRAME_OPTIONS", "DENY").upper()))
    return headers
