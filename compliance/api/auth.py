"""API authentication: django-rest-knox tokens (only a SHA-512 digest of each token is stored,
never the token itself), issued by POST /api/v1/auth/token/ and by ``add_user --token``."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.models import get_token_model
from rest_framework import exceptions


def issue_token(user) -> str:
    """A new API token for ``user``; the clear text exists only in the return value."""
    _instance, token = get_token_model().objects.create(user=user)
    return token


class TokenAuthentication(KnoxTokenAuthentication):
    """Knox's token check, refusing a header that is not even text with 401 (not a 500)."""

    def authenticate_credentials(self, token: bytes):
        try:
            token.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid token.") from exc
        return super().authenticate_credentials(token)


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "compliance.api.auth.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'A token from POST /api/v1/auth/token/, sent as "Token <key>".',
        }
