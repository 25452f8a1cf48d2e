"""Role permissions for the API (SPEC "Who uses it"). The services check roles again, so a
permission class is the first gate, never the only one."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from compliance.models.roles import (
    can_read,
    can_read_access,
    can_read_audit,
    can_write,
    is_admin,
    is_gateway,
)


class ReadWrite(BasePermission):
    """Safe methods need ``read``, the others ``write`` (each a role predicate on the user):
    the permissions below differ only in the pair."""

    read = staticmethod(can_read)
    write = staticmethod(can_write)

    def has_permission(self, request, view) -> bool:
        allowed = self.read if request.method in SAFE_METHODS else self.write
        return allowed(request.user)


class ReadAnyRoleWriteStaff(ReadWrite):
    """Every role reads; staff and admins write; auditors are read-only."""


class ReadAnyRoleWriteAdmin(ReadWrite):
    """Every role reads; only admins write (agencies, partners, allowlist decisions)."""

    write = staticmethod(is_admin)


class AuditReader(BasePermission):
    """The audit log and the reminder log: auditors and admins."""

    def has_permission(self, request, view) -> bool:
        return request.method in SAFE_METHODS and can_read_audit(request.user)


class AccessReader(BasePermission):
    """Access decisions, the entitlement feed and its stream (R26, R27): every role, the
    ``gateway`` role included (it may call nothing else)."""

    def has_permission(self, request, view) -> bool:
        return can_read_access(request.user)


class GatewayRegistry(ReadWrite):
    """GET /gateways/: auditors and admins read; admins register gateways."""

    read = staticmethod(can_read_audit)
    write = staticmethod(is_admin)


class GatewayOnly(BasePermission):
    """Receipts: a gateway (the service checks it is the gateway the path names)."""

    def has_permission(self, request, view) -> bool:
        return is_gateway(request.user)


class NotGateway(BasePermission):
    """A person's own account endpoints (logout, tokens): anyone signed in but a gateway,
    whose token may call only the gateway endpoints (SPEC R25–R30)."""

    def has_permission(self, request, view) -> bool:
        return not is_gateway(request.user)
