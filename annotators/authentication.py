"""Token authentication: ``Authorization: Token <key>`` (or ``Bearer <key>``).

Keys are looked up by their sha256; a revoked token or an inactive user is refused with a
message that says which. ``request.auth`` is the ``ApiToken``, so permissions can tell a pipeline
token (read-only, one project) from a personal one.
"""

from __future__ import annotations

from rest_framework import authentication, exceptions

from annotators.models import ApiToken, hash_token
from annotators.services import token_touch


_loaders: dict[str, tuple] = {}


def _token_with_user(key_hash: str) -> ApiToken | None:
    """The token and its user in one hand-written query (every API request runs it; see
    labeling/rawsql.py for why not the ORM)."""
    from django.contrib.auth import get_user_model

    from labeling import rawsql

    if "sql" not in _loaders:
        user_model = get_user_model()
        token, user = rawsql.Loader(ApiToken, "t"), rawsql.Loader(user_model, "u")
        _loaders["sql"] = (token, user, (
            f"SELECT {token.columns}, {user.columns} FROM {rawsql.table(ApiToken)} t "
            f"JOIN {rawsql.table(user_model)} u ON u.{rawsql.q(user_model._meta.pk.column)} = t.user_id "
            "WHERE t.key_hash = %s"))
    token_loader, user_loader, sql = _loaders["sql"]
    row = rawsql.fetchone(sql, [key_hash])
    if row is None:
        return None
    token = token_loader.load(row)
    token.user = user_loader.load(row, token_loader.width)
    return token


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
        token = _token_with_user(hash_token(key))
        if token is None:
            raise exceptions.AuthenticationFailed("unknown API token")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("this API token was revoked")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("the token's user is inactive")
        token_touch(token=token)
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
