"""Every registry table, imported in one place for Alembic and the tests."""

from services.registry.accounts.models import Account, LoginAttempt
from services.registry.agencies.models import Agency, SharingAgreement
from services.registry.audit.models import AuditEvent, AuditHead
from services.registry.consent.models import ConsentGrant
from services.registry.database import Base
from services.registry.devices.models import Device, EnrolmentAttempt, EnrolmentCode
from services.registry.evidence.models import EvidenceFile
from services.registry.notify.models import Notification
from services.registry.outbox.models import OutboxEvent
from services.registry.owners.models import Camera, Owner, Site
from services.registry.requests.models import FootageRequest, FootageRequestCamera, RequestShare
from services.registry.stats.models import CameraLedger

__all__ = [
    "Account", "Agency", "AuditEvent", "AuditHead", "Base", "Camera", "CameraLedger", "ConsentGrant", "Device",
    "EnrolmentAttempt", "EnrolmentCode", "EvidenceFile", "FootageRequest", "FootageRequestCamera", "LoginAttempt",
    "Notification", "OutboxEvent", "Owner", "RequestShare", "SharingAgreement", "Site",
]
