"""The rules (R1–R16). Every write in Clearance goes through a function here."""

from compliance.services.agencies import create_agency, update_agency
from compliance.services.allowlist import (
    decide_allowlist_entry,
    propose_allowlist_entry,
    revoke_allowlist_entry,
)
from compliance.services.evidence import update_evidence, upload_evidence
from compliance.services.gateways import (
    create_gateway,
    ensure_gateway,
    note_gateway_seen,
    record_receipt,
    set_gateway_active,
)
from compliance.services.partners import create_partner, update_partner
from compliance.services.releases import (
    create_release,
    submit_release,
    transition_release,
    update_release,
)
from compliance.services.requests import (
    record_request,
    set_request_status,
    update_request,
)
from compliance.services.signoffs import decide_signoff, withdraw_signoff
from compliance.services.webhooks import (
    create_webhook,
    rotate_webhook_secret,
    send_test_ping,
    update_webhook,
)
from compliance.services.witnesses import add_cosignatures, register_witness

__all__ = [
    "add_cosignatures",
    "register_witness",
    "create_agency",
    "create_gateway",
    "create_partner",
    "create_release",
    "create_webhook",
    "decide_allowlist_entry",
    "decide_signoff",
    "ensure_gateway",
    "propose_allowlist_entry",
    "note_gateway_seen",
    "record_receipt",
    "record_request",
    "revoke_allowlist_entry",
    "rotate_webhook_secret",
    "send_test_ping",
    "set_gateway_active",
    "set_request_status",
    "submit_release",
    "transition_release",
    "update_agency",
    "update_partner",
    "update_release",
    "update_request",
    "update_webhook",
    "update_evidence",
    "upload_evidence",
    "withdraw_signoff",
]
