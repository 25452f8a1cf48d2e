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


class ReadAnyRoleWriteStaff(BasePermission):
    """Every role reads; staff and admins write; auditors are read-only."""

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return can_read(request.user)
        return can_write(request.user)


class ReadAnyRoleWriteAdmin(BasePermission):
    """Every role reads; only admins write (agencies, partners, allowlist decisions)."""

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return can_read(request.user)
        return is_admin(request.user)


class AuditReader(BasePermission):
    """The audit log and the reminder log: auditors and admins."""

    def has_permission(self, request, view) -> bool:
        return request.method in SAFE_METHODS and can_read_audit(request.user)


class AccessReader(BasePermission):
    """Access decisions, the entitlement feed and its stream (R26, R27): every role, the
    ``gateway`` role included (it may call nothing else)."""

    def has_permission(self, request, view) -> bool:
        return can_read_access(request.user)


class GatewayRegistry(BasePermission):
    """GET /gateways/: auditors and admins read; admins register gateways."""

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return can_read_audit(request.user)
        return is_admin(request.user)


class GatewayOnly(BasePermission):
    """Receipts: a gateway (the service checks it is the gateway the path names)."""

    def has_permission(self, request, view) -> bool:
        return is_gateway(request.user)


class NotGateway(BasePermission):
    """A person's own account endpoints (logout, tokens): anyone signed in but a gateway,
    whose token may call only the gateway endpoints (SPEC R25–R30)."""

    def has_permission(self, request, view) -> bool:
        return not is_gateway(request.user)
