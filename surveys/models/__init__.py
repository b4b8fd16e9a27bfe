from surveys.models.actions import Action
from surveys.models.cycles import Cycle, Invitation, InvitationTally, RetiredLink
from surveys.models.instrument import InstrumentVersion
from surveys.models.organisation import AuditEvent, Organisation, Person, Role, Team

__all__ = [
    "Action",
    "AuditEvent",
    "Cycle",
    "InstrumentVersion",
    "Invitation",
    "InvitationTally",
    "Organisation",
    "Person",
    "RetiredLink",
    "Role",
    "Team",
]
