"""Reformflow's domain models, one module per concern; import from here."""

from .audit import AuditEvent, AuditTrailIsAppendOnly, AuditVerification
from .cases import (
    Case,
    Comment,
    Evidence,
    Outcome,
    ProgressUpdate,
    Rag,
    WorkItem,
    WorkItemStatus,
)
from .catalogue import Aspect, CatalogueSource, Measure, StepKind, StepRole, StepTemplate
from .deadlines import (
    CalendarDay,
    CalendarDayKind,
    DeadlineChange,
    DeadlineChangeKind,
    Escalation,
    EscalationPolicy,
    EscalationRung,
    Recipient,
)
from .notifications import Notification, NotificationKind, NotificationStatus
from .organisation import Department, LeaderRole, Organisation, OrganisationLevel, Profile
from .reports import Report, ReportKind, ReportStatus

__all__ = [
    "CalendarDay",
    "CalendarDayKind",
    "DeadlineChange",
    "DeadlineChangeKind",
    "Escalation",
    "EscalationPolicy",
    "EscalationRung",
    "Notification",
    "NotificationKind",
    "NotificationStatus",
    "Recipient",
    "AuditEvent",
    "AuditTrailIsAppendOnly",
    "AuditVerification",
    "Case",
    "Comment",
    "Evidence",
    "Outcome",
    "ProgressUpdate",
    "Rag",
    "WorkItem",
    "WorkItemStatus",
    "Aspect",
    "CatalogueSource",
    "Department",
    "LeaderRole",
    "Measure",
    "Organisation",
    "OrganisationLevel",
    "Profile",
    "Report",
    "ReportKind",
    "ReportStatus",
    "StepKind",
    "StepRole",
    "StepTemplate",
]
