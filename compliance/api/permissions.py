"""Role permissions for the API (SPEC "Who uses it"). The services check roles again, so a
permission class is the first gate, never the only one."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from compliance.models.roles import can_read, can_read_audit, can_write, is_admin


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
