"""Token authentication: ``Authorization: Token <key>`` (or ``Bearer <key>``).

Keys are looked up by their sha256; a revoked token or an inactive user is refused with a
message that says which. ``request.auth`` is the ``ApiToken``, so permissions can tell a pipeline
token (read-only, one project) from a personal one.
"""

from __future__ import annotations

from rest_framework import authentication, exceptions

from annotators.models import ApiToken, hash_token
from annotators.services import token_touch


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
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(key)).first()
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
