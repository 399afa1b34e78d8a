"""The database: typed SQLAlchemy tables, the session factory and small repository functions.

Nothing outside this package writes SQL.
"""

from models.base import Base
from models.cases import Case, CaseCounter, CaseEvent, Deadline, LabelCorrection, SentAutoReply
from models.mail import Attachment, MailboxState, OutgoingMail, RawMessage
from models.model_versions import ModelVersion

__all__ = [
    "Attachment", "Base", "Case", "CaseCounter", "CaseEvent", "Deadline", "LabelCorrection",
    "MailboxState", "ModelVersion", "OutgoingMail", "RawMessage", "SentAutoReply",
]
