from compliance.models.roles import can_read_audit, can_write, is_admin, role_of


def clearance(request):
    """Who is signed in and what they may do: the header and every action button use it."""
    user = getattr(request, "user", None)
    return {
        "clearance_role": role_of(user),
        "can_write": can_write(user),
        "is_admin": is_admin(user),
        "can_audit": can_read_audit(user),
        # After a refused POST: the page's own address, for the address bar (web/once.py).
        "page_url": getattr(request, "clearance_page_url", None),
    }
