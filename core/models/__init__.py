"""Typed records, one module per subject. Every capability adds its tables in the module of
its subject (and a new migration); everything is importable from `core.models`, which also
registers every table on Base.metadata for Alembic."""
from core.models.accounts import ROLE_LABELS, ROLES, AuditEntry, LoginFailure, User
from core.models.library import (
    INTRO_MODES,
    Lesson,
    LessonQuestion,
    LessonVersion,
    LexiconEntry,
    QuestionAnswer,
    Series,
    lesson_label,
)
from core.models.listening import (
                                   SHARE_KINDS,
                                   Listen,
                                   ListenDay,
                                   ListenDayMark,
                                   ListenDayMember,
                                   ListenDayPhones,
                                   ListenDayStart,
                                   ListenerMessage,
                                   ListenSession,
                                   MessageReply,
                                   OfflineListen,
                                   ShareToken,
                                   UploadRefusal,
)
from core.models.packs import Pack, PackItem
from core.models.roll import (
    DELIVERED,
    DoorCard,
    DoorScan,
    GroupSession,
    GroupSessionLesson,
    GroupSessionMember,
    Member,
    Pairing,
    Visit,
    VisitLesson,
)
from core.models.work import (
                                   ACTIVE,
                                   ENDED,
                                   Job,
                                   JobWait,
                                   PackTarget,
                                   Rendition,
                                   RenditionKind,
                                   Status,
                                   StudioAssignment,
                                   StudioTake,
                                   one_of,
)

__all__ = [
    "ACTIVE", "DELIVERED", "ENDED", "INTRO_MODES", "lesson_label", "ROLES", "ROLE_LABELS", "SHARE_KINDS", "AuditEntry", "DoorCard",
    "DoorScan", "GroupSession", "GroupSessionLesson", "GroupSessionMember", "Job", "JobWait", "Lesson", "LessonQuestion", "LessonVersion", "QuestionAnswer", "LexiconEntry", "Listen", "ListenDay", "ListenDayMark",
    "ListenDayMember", "ListenDayPhones", "ListenDayStart", "ListenerMessage", "ListenSession",
    "LoginFailure", "Member", "MessageReply", "OfflineListen", "Pack", "PackItem", "PackTarget", "Pairing", "Rendition",
    "RenditionKind", "Series", "ShareToken", "Status", "StudioAssignment", "StudioTake", "UploadRefusal", "User", "Visit", "VisitLesson", "one_of",
]
