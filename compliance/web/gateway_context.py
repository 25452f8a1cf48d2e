"""What the request and release pages show of enforcement (R29): in words a compliance
officer reads."""

from __future__ import annotations

from compliance import enforcement
from compliance.models import Gateway, GovernmentRequest, Release


def _verb(change: str) -> str:
    """ "status: limited → suspended" → "suspended"; other changes in words."""
    if change.startswith("status: "):
        return change.rsplit("→ ", 1)[-1]
    if change.startswith("foreign_access_restricted"):
        return "restricted to the US" if change.endswith("True") else "restriction lifted"
    if change.startswith("allowlist entry"):
        return "partner " + change.rsplit("→ ", 1)[-1]
    return "partner country changed"


def request_enforcement_context(req: GovernmentRequest) -> dict:
    """For the request page: "received 19 Nov 2026, 17:21 EST · suspended 19 Nov 2026, 17:40
    EST · enforced by 3/3 gateways 19 Nov 2026, 17:40:02 EST", one line per access change on
    its releases while it was in force (dated: a directive's changes can span days)."""
    rows, seconds = enforcement.request_enforcement(req)
    total = Gateway.objects.filter(active=True).count()
    lines = [
        {**r, "verb": _verb(r["change"]), "enforced_by": total - len(r["pending"]), "total": total}
        for r in rows
    ]
    return {"enforcement": lines, "time_to_enforce": seconds}


def release_gateways_context(release: Release) -> dict:
    """For the release page: each gateway's state, and whether the release's latest access
    change (its suspension, say) is enforced everywhere: "enforced by 2/2 gateways 19 Nov
    2026, 17:40:02 EST" or "enforced by 1/2 gateways so far, waiting for gw-eu-west" (the
    gate's R29 block)."""
    states = enforcement.gateway_states(release)
    latest = enforcement.release_enforcement(release) if states else None
    if latest is not None:
        latest = {
            **latest,
            "enforced_by": len(states) - len(latest["pending"]),
            "total": len(states),
        }
    return {"gateway_states": states, "latest_enforcement": latest}
