"""Token authentication: ``Authorization: Token <key>`` (or ``Bearer <key>``).

Keys are looked up by their sha256; a revoked token or an inactive user is refused with a
message that says which. ``request.auth`` is the ``ApiToken``, so permissions can tell a pipeline
token (read-only, one project) from a personal one.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections
from rest_framework import authentication, exceptions

from annotators.models import ApiToken, hash_token
from annotators.services import token_touch


_loaders: dict[str, tuple] = {}


def _sql() -> tuple:
    """(loaders..., token-only SQL, token-and-membership SQL), built once per process."""
    if "sql" not in _loaders:
        from django.contrib.auth import get_user_model

        from annotators.models import Annotator, Membership
        from labeling import rawsql
        from labeling.models import Project

        user_model = get_user_model()
        # What a request reads of the token and the user; the rest is loaded if asked for.
        token = rawsql.Loader(ApiToken, "t", defer=("name", "key_hash", "prefix", "created_at"))
        user = rawsql.Loader(user_model, "u", defer=[f for f in ("password", "last_login", "first_name", "last_name",
                                                                "email", "date_joined")
                                                    if f in {x.name for x in user_model._meta.concrete_fields}])
        # Timestamps nothing on the annotation path reads are left out (each costs a parse in
        # Python); read on access if anything ever does.
        member, annotator, project = (rawsql.Loader(Membership, "m", defer=("created_at",)),
                                      rawsql.Loader(Annotator, "a", defer=("created_at",)),
                                      rawsql.Loader(Project, "p", defer=("instructions", "created_at", "updated_at")))
        base = (f"FROM {rawsql.table(ApiToken)} t "
                f"JOIN {rawsql.table(user_model)} u ON u.{rawsql.q(user_model._meta.pk.column)} = t.user_id ")
        _loaders["sql"] = (
            token, user, member, annotator, project,
            f"SELECT {token.columns}, {user.columns} {base}WHERE t.key_hash = %s",
            # The caller's membership of the project named in the URL, with its annotator and
            # project, in the same query (the annotation endpoints need all three at once).
            f"SELECT {token.columns}, {user.columns}, {member.columns}, {annotator.columns}, {project.columns} "
            f"{base}LEFT JOIN annotators_annotator a ON a.user_id = t.user_id "
            "LEFT JOIN annotators_membership m ON m.annotator_id = a.id AND m.project_id = %s "
            "LEFT JOIN labeling_project p ON p.id = m.project_id WHERE t.key_hash = %s",
        )
    return _loaders["sql"]


def _token_with_user(key_hash: str, project_id: int | None = None) -> tuple[ApiToken | None, object | None]:
    """The token and its user in one hand-written query (every API request runs it; see
    labeling/rawsql.py for why not the ORM). With ``project_id``, also the user's membership
    of that project (with ``.annotator`` and ``.project``), or None when not a member."""
    from labeling import rawsql

    token_loader, user_loader, member_loader, annotator_loader, project_loader, sql, member_sql = _sql()
    if project_id is None:
        row = rawsql.fetchone(sql, [key_hash], repeatable=True)
    else:
        row = rawsql.fetchone(member_sql, [project_id, key_hash], repeatable=True)
    if row is None:
        return None, None
    db = connections[DEFAULT_DB_ALIAS]
    token = token_loader.load(row, 0, db)
    rawsql.set_related(token, "user", user_loader.load(row, token_loader.width, db))
    membership = None
    at = token_loader.width + user_loader.width
    if project_id is not None and row[at] is not None:
        membership = member_loader.load(row, at, db)
        rawsql.set_related(membership, "annotator", annotator_loader.load(row, at + member_loader.width, db))
        rawsql.set_related(membership, "project", project_loader.load(
            row, at + member_loader.width + annotator_loader.width, db))
    return token, membership


def _member_project_id(request) -> int | None:
    """The project id in the URL of a view that asks for the caller's membership up front
    (``prefetch_membership = True``), when it is a valid id."""
    context = getattr(request, "parser_context", None) or {}
    view = context.get("view")
    if not getattr(view, "prefetch_membership", False):
        return None
    value = (context.get("kwargs") or {}).get("project_id")
    return value if type(value) is int and 0 < value < 2**63 else None


class TokenAuthentication(authentication.BaseAuthentication):
    keywords = ("token", "bearer")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower().decode(errors="replace") not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Token <key>'")
        try:
            key = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("the token holds characters that are not ASCII") from None
        project_id = _member_project_id(request)
        token, membership = _token_with_user(hash_token(key), project_id)
        if token is None:
            raise exceptions.AuthenticationFailed("unknown API token")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("this API token was revoked")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("the token's user is inactive")
        token_touch(token=token)
        if project_id is not None:
            # Read by labeling.api.permissions.membership_of_caller (None: not a member).
            request._quorum_membership = (project_id, membership)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return "Token"


try:
    from drf_spectacular.extensions import OpenApiAuthenticationExtension
except ImportError:  # pragma: no cover - drf-spectacular is a requirement
    OpenApiAuthenticationExtension = None

if OpenApiAuthenticationExtension is not None:

    class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
        target_class = "annotators.authentication.TokenAuthentication"
        name = "tokenAuth"

        def get_security_definition(self, auto_schema):
            return {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Token <key>`; create keys with `manage.py createtoken USER` or POST /api/v1/tokens",
            }
