"""API authentication: django-rest-knox tokens (only a SHA-512 digest of each token is stored,
never the token itself), issued by POST /api/v1/auth/token/ and by ``add_user --token``
(``compliance.services.users.issue_token``), revoked by logout, by the owner or an admin, and
by a password change or a deactivation."""

from __future__ import annotations

import binascii
from hmac import compare_digest

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.crypto import hash_token
from knox.models import get_token_model
from knox.settings import CONSTANTS, knox_settings
from knox.signals import token_expired
from rest_framework import exceptions

from compliance.services.users import issue_token

__all__ = ["TokenAuthentication", "issue_token"]


class TokenAuthentication(KnoxTokenAuthentication):
    """Knox's token check, through the ORM, without knox's per-request purge: knox reads every
    other token of the user on each request to delete expired ones (docs/benchmarks.md); here
    only the presented token is read (with its user, one query) and its own expiry checked.
    Expired tokens are refused and deleted when presented, and a user's other expired tokens
    are purged when a new one is issued. A header that is not even text is a 401 (not a 500);
    an inactive user's token is refused (knox's ``validate_user``)."""

    def authenticate_credentials(self, token: bytes):
        msg = "Invalid token."
        try:
            text = token.decode("utf-8")
            digest = hash_token(text)
        except (UnicodeDecodeError, TypeError, binascii.Error) as exc:
            raise exceptions.AuthenticationFailed(msg) from exc
        candidates = (
            get_token_model()
            .objects.filter(token_key=text[: CONSTANTS.TOKEN_KEY_LENGTH])
            .select_related("user")
        )
        for auth_token in candidates:
            if not compare_digest(digest, auth_token.digest):
                continue
            if auth_token.expiry is not None and auth_token.expiry < timezone.now():
                username = auth_token.user.get_username()
                auth_token.delete()
                token_expired.send(sender=self.__class__, username=username, source="auth_token")
                break
            if knox_settings.AUTO_REFRESH and auth_token.expiry:
                self.renew_token(auth_token)
            return self.validate_user(auth_token)
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
