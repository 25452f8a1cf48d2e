"""API authentication: django-rest-knox tokens (only a SHA-512 digest of each token is stored,
never the token itself), issued by POST /api/v1/auth/token/ and by ``add_user --token``
(``compliance.services.users.issue_token``), revoked by logout, by the owner or an admin, and
by a password change or a deactivation.

The token read is one hand-written statement on PostgreSQL: the same read through the ORM
measured 0.24× instead of 0.48× the bare view for a token-authenticated no-op, and the access
check 0.12× instead of 0.35× (docs/benchmarks.md, interleaved A/B): more than the 20% that
issue 14 allows. ``tests/test_api_auth.py`` holds the equivalence tests (roles, expiry,
inactive users, other expired tokens)."""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from functools import cache
from hmac import compare_digest

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.crypto import hash_token
from knox.models import get_token_model
from knox.settings import CONSTANTS, knox_settings
from knox.signals import token_expired
from rest_framework import exceptions

from compliance.prepared import Statement, fetch_all
from compliance.services.users import issue_token

__all__ = ["Companion", "TokenAuthentication", "issue_token"]


@cache
def _token_parts() -> tuple[str, str, str, list[str], list[str]]:
    """The token check's statement in parts (PostgreSQL), built once from the models'
    metadata: the select list (token, its user, the user's group names), the FROM clause,
    the key column, and the attribute names of the token's and the user's columns."""
    token_model, user_model = get_token_model(), get_user_model()
    qn = connection.ops.quote_name
    token_fields = token_model._meta.concrete_fields
    user_fields = user_model._meta.concrete_fields
    groups = user_model._meta.get_field("groups")
    through = groups.remote_field.through._meta
    group = groups.related_model._meta
    user_fk = token_model._meta.get_field("user").column
    key_col = token_model._meta.get_field("token_key").column
    select = (
        ", ".join(f"t.{qn(f.column)}" for f in token_fields)
        + ", "
        + ", ".join(f"u.{qn(f.column)}" for f in user_fields)
        + f", ARRAY(SELECT g.{qn(group.get_field('name').column)} FROM {qn(group.db_table)} g"
        + f" JOIN {qn(through.db_table)} m ON m.{qn(groups.m2m_reverse_name())} = g.{qn(group.pk.column)}"
        + f" WHERE m.{qn(groups.m2m_column_name())} = u.{qn(user_model._meta.pk.column)})"
    )
    tables = (
        f"{qn(token_model._meta.db_table)} t"
        + f" JOIN {qn(user_model._meta.db_table)} u ON u.{qn(user_model._meta.pk.column)} = t.{qn(user_fk)}"
    )
    return (
        select,
        tables,
        f"t.{qn(key_col)}",
        [f.attname for f in token_fields],
        [f.attname for f in user_fields],
    )


@dataclass(frozen=True)
class Companion:
    """A read that rides in the token check's statement, so that an endpoint whose work is
    one read pays one round trip, as a no-op does (issue 15). ``sql(arg)`` is a SELECT of
    exactly one row whose parameters are ``params`` (``arg(n)`` spells the n-th); its columns
    follow the token's in every row. ``name`` names the combined prepared statement."""

    name: str
    sql: Statement
    params: list


def _token_sql(companion: Companion | None):
    """The token check's statement, with ``companion`` cross-joined when given (its
    parameters first, then the token key)."""
    select, tables, key, _t, _u = _token_parts()
    if companion is None:
        return lambda arg: f"SELECT {select} FROM {tables} WHERE {key} = {arg(1)}"
    k = len(companion.params)
    return lambda arg: (
        f"SELECT {select}, c.* FROM {tables} CROSS JOIN ({companion.sql(arg)}) AS c"
        f" WHERE {key} = {arg(k + 1)}"
    )


def _candidates(key: str, companion: Companion | None = None):
    """(token with its user loaded, the user's group names or None, the companion's columns
    or None) for a token key. The companion rides only on PostgreSQL's one statement."""
    token_model = get_token_model()
    if connection.vendor != "postgresql":
        for token in token_model.objects.filter(token_key=key).select_related("user"):
            yield token, None, None
        return
    _s, _t, _k, token_names, user_names = _token_parts()
    sql = _token_sql(companion)
    if companion is None:
        with connection.cursor() as cursor:
            cursor.execute(sql(lambda n: "%s"), [key])
            rows = cursor.fetchall()
    else:
        rows = fetch_all(f"clearance_token_{companion.name}", sql, [*companion.params, key])
    n, m = len(token_names), len(token_names) + len(user_names)
    for row in rows:
        token = token_model.from_db(connection.alias, token_names, row[:n])
        user = get_user_model().from_db(connection.alias, user_names, row[n:m])
        token_model._meta.get_field("user").set_cached_value(token, user)
        yield token, set(row[m]), (row[m + 1 :] if companion is not None else None)


class TokenAuthentication(KnoxTokenAuthentication):
    """Knox's token check in one round trip (docs/benchmarks.md): on PostgreSQL one static
    statement reads the token, its user and the user's role groups. Knox itself reads every
    other token of the user on each request to purge expired ones, the role check then reads
    the groups, and the ORM's query building cost more than the round trips. An expired
    token is still refused and deleted when presented; a header that is not even text is a
    401 (not a 500).

    A view may have a read ride in that statement: its ``token_companion(request)`` gives
    the ``Companion`` (or None), and its ``token_accompanied(columns)`` gets the columns, only
    once the token is valid and its user active (DRF makes a view instance per request)."""

    _view = None
    _companion: Companion | None = None

    def authenticate(self, request):
        view = (getattr(request, "parser_context", None) or {}).get("view")
        if hasattr(view, "token_companion"):
            self._view, self._companion = view, view.token_companion(request)
        return super().authenticate(request)

    def authenticate_credentials(self, token: bytes):
        msg = "Invalid token."
        try:
            text = token.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(msg) from exc
        key = text[: CONSTANTS.TOKEN_KEY_LENGTH]
        for auth_token, role_names, columns in _candidates(key, self._companion):
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
                if role_names is not None:
                    user._clearance_groups = role_names  # role_of() reads no more
                if columns is not None:
                    self._view.token_accompanied(columns)
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
