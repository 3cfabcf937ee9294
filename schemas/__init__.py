"""The event contract of antt: models, validator, reference data and legal-time rules.

Import from here: ``from schemas import validate_batch, Event, MAX_BATCH_EVENTS``.
"""

from schemas.enums import (
    AdminField,
    Channel,
    CodeRegime,
    CrimeGroup,
    Decision,
    EventType,
    ExtensionKind,
    HandledBy,
    ResumeReason,
    Severity,
    SourceType,
    SuspensionReason,
    TriageOutcome,
)
from schemas.models import (
    EVENT_CLASSES,
    SCHEMA_VERSION,
    AdminViolationSanctioned,
    DeadlineExtended,
    Event,
    EventBase,
    OffenceCleared,
    ReportForwarded,
    ReportReceived,
    ReportResolved,
    ReportResumed,
    ReportTriaged,
    SuspectsApprehended,
)
from schemas.units import PROVINCES, UnitError
from schemas.validate import MAX_BATCH_EVENTS, Rejection, ValidationReport, validate_batch

__all__ = [
    "EVENT_CLASSES",
    "MAX_BATCH_EVENTS",
    "PROVINCES",
    "SCHEMA_VERSION",
    "AdminField",
    "AdminViolationSanctioned",
    "Channel",
    "CodeRegime",
    "CrimeGroup",
    "DeadlineExtended",
    "Decision",
    "Event",
    "EventBase",
    "EventType",
    "ExtensionKind",
    "HandledBy",
    "OffenceCleared",
    "Rejection",
    "ReportForwarded",
    "ReportReceived",
    "ReportResolved",
    "ReportResumed",
    "ReportTriaged",
    "ResumeReason",
    "Severity",
    "SourceType",
    "SuspectsApprehended",
    "SuspensionReason",
    "TriageOutcome",
    "UnitError",
    "ValidationReport",
    "validate_batch",
]
