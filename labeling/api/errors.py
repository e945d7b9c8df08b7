"""One error shape for every API response: ``{"errors": [{"field": ..., "message": ...}]}``.

DRF validation errors are flattened to dotted field paths (``choices.2``); domain errors keep
their own fields (and ``line`` for import problems); authentication, permission, not-found and
throttling errors have ``field: null``. Any unexpected exception is logged and answered with a
500 in the same shape by ``json_server_error``, though the aim is that none reaches it.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from labeling.errors import DomainError

log = logging.getLogger(__name__)


def _flatten(detail, prefix: str | None = None) -> list[dict]:
    out: list[dict] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            field = None if key in ("non_field_errors", "detail") else (f"{prefix}.{key}" if prefix else str(key))
            if key in ("non_field_errors", "detail"):
                field = prefix
            out.extend(_flatten(value, field))
    elif isinstance(detail, list):
        if all(not isinstance(v, (dict, list)) for v in detail):
            out.extend({"field": prefix, "message": str(v)} for v in detail)
        else:
            for index, value in enumerate(detail):
                if value:
                    out.extend(_flatten(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out.append({"field": prefix, "message": str(detail)})
    return out


def error_response(errors: list[dict], status_code: int, code: str | None = None) -> Response:
    body: dict = {"errors": errors}
    if code:
        body["code"] = code
    return Response(body, status=status_code)


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return error_response([e.as_dict() for e in exc.errors], exc.status, exc.code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, IntegrityError):
        log.warning("integrity error answered as 409: %s", exc)
        return error_response([{"field": None, "message": "this conflicts with data already stored "
                                                          f"({str(exc).splitlines()[0][:200]})"}], 409, "conflict")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("not found")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
    else:
        errors = [{"field": None, "message": str(exc.detail)}]
    codes = exc.get_codes() if hasattr(exc, "get_codes") else None
    code = codes if isinstance(codes, str) else ("invalid" if response.status_code == 400 else None)
    response.data = {"errors": errors, **({"code": code} if code else {})}
    return response


def json_server_error(request, *args, **kwargs):
    return JsonResponse({"errors": [{"field": None, "message": "internal error; it has been logged"}],
                         "code": "server_error"}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)


def json_not_found(request, exception=None):
    return JsonResponse({"errors": [{"field": None, "message": f"no such path: {request.path}"}],
                         "code": "not_found"}, status=404)
