from compliance.models import users  # noqa: F401,E402  (registers User history)
from compliance.models.agencies import Agency
from compliance.models.allowlist import AllowlistEntry, AllowlistStatus
from compliance.models.audit import GENESIS_HASH, AuditAction, AuditRecord
from compliance.models.evidence import EvidenceDocument, EvidenceKind
from compliance.models.gateways import Gateway
from compliance.models.partners import Partner
from compliance.models.preferences import UserPreference
from compliance.models.releases import LIVE_STATUSES, Release, ReleaseStatus
from compliance.models.reminders import (
    ClaimState,
    Notification,
    OutboxState,
    Reminder,
    ReminderClaim,
    ReminderKind,
)
from compliance.models.requests import GovernmentRequest, LabPosition, RequestKind, RequestStatus
from compliance.models.roles import Role, role_of
from compliance.models.signoffs import SignOff, SignOffStatus, Stage
from compliance.models.transparency import (
    AuditCheckpoint,
    AuditCheckpointVerification,
    AuditCosignature,
    AuditWitness,
    MerkleNode,
)
from compliance.models.webhooks import (
    DeliveryStatus,
    PendingWebhookEvent,
    RaisedAlert,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ = [
    "GENESIS_HASH",
    "LIVE_STATUSES",
    "Agency",
    "AllowlistEntry",
    "AllowlistStatus",
    "AuditAction",
    "AuditCheckpoint",
    "AuditCheckpointVerification",
    "AuditCosignature",
    "AuditWitness",
    "AuditRecord",
    "ClaimState",
    "DeliveryStatus",
    "PendingWebhookEvent",
    "EvidenceDocument",
    "EvidenceKind",
    "Gateway",
    "GovernmentRequest",
    "LabPosition",
    "MerkleNode",
    "Notification",
    "OutboxState",
    "Partner",
    "RaisedAlert",
    "Release",
    "ReleaseStatus",
    "Reminder",
    "ReminderClaim",
    "ReminderKind",
    "RequestKind",
    "RequestStatus",
    "Role",
    "role_of",
    "SignOff",
    "SignOffStatus",
    "Stage",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "UserPreference",
    "WebhookEvent",
]
