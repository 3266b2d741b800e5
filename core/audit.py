"""The audit log: every change to members, pairings, door cards, visits, codes and accounts."""
from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import AuditEntry, User

# Who did it: a signed-in user, or a name for work done outside the web — "命令行（root）" for
# a command, "xiangyin init" for the first admin. None is the system itself.
Actor = User | str | None


def actor_label(actor: Actor) -> str:
    if isinstance(actor, User):
        return actor.display_name
    return actor or "系统"


def audit(session: Session, user: Actor, action: str, entity: str, entity_id: int | None,
          summary: str, **details) -> AuditEntry:
    """Add an entry in the caller's transaction, so the log and the change commit together."""
    entry = AuditEntry(
        user_id=user.id if isinstance(user, User) else None, user_name=actor_label(user),
        action=action, entity=entity, entity_id=entity_id, summary=summary,
        details=json.dumps(details, ensure_ascii=False, default=str),
    )
    session.add(entry)
    return entry


def recent(session: Session, limit: int = 200, entity: str | None = None, entity_id: int | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if entity:
        query = query.where(AuditEntry.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == entity_id)
    return list(session.scalars(query))
