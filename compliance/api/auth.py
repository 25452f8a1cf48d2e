"""API authentication: django-rest-knox tokens (only a SHA-512 digest of each token is stored,
never the token itself), issued by POST /api/v1/auth/token/ and by ``add_user --token``."""

from __future__ import annotations

import binascii
from hmac import compare_digest

from django.contrib.postgres.aggregates import ArrayAgg
from django.db import connection
from django.db.models import Q, Value
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.crypto import hash_token
from knox.models import get_token_model
from knox.settings import CONSTANTS, knox_settings
from knox.signals import token_expired
from rest_framework import exceptions


def issue_token(user) -> str:
    """A new API token for ``user``; the clear text exists only in the return value."""
    _instance, token = get_token_model().objects.create(user=user)
    return token


class TokenAuthentication(KnoxTokenAuthentication):
    """Knox's token check in one query (docs/benchmarks.md): the token, its user and, on
    PostgreSQL, the user's role groups in the same row. Knox itself also reads every other
    token of the user on each request to purge expired ones, and the role check then reads
    the groups: three round trips before the view starts. An expired token is still refused
    and deleted when it is presented; a header that is not even text is a 401 (not a 500)."""

    def authenticate_credentials(self, token: bytes):
        msg = "Invalid token."
        try:
            text = token.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(msg) from exc
        candidates = (
            get_token_model()
            .objects.filter(token_key=text[: CONSTANTS.TOKEN_KEY_LENGTH])
            .select_related("user")
        )
        if connection.vendor == "postgresql":
            candidates = candidates.annotate(
                role_names=ArrayAgg(
                    "user__groups__name",
                    filter=Q(user__groups__isnull=False),
                    default=Value([]),
                )
            )
        for auth_token in candidates:
            if auth_token.expiry is not None and auth_token.expiry < timezone.now():
                username = auth_token.user.get_username()
                auth_token.delete()
                token_expired.send(sender=self.__class__, username=username, source="auth_token")
                continue
            try:
                digest = hash_token(text)
            except (TypeError, binascii.Error) as exc:
                raise exceptions.AuthenticationFailed(msg) from exc
            if compare_digest(digest, auth_token.digest):
                if knox_settings.AUTO_REFRESH and auth_token.expiry:
                    self.renew_token(auth_token)
                user, auth = self.validate_user(auth_token)
                if hasattr(auth_token, "role_names"):
                    user._clearance_groups = set(auth_token.role_names)  # see role_of()
                return user, auth
        raise exceptions.AuthenticationFailed(msg)


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
