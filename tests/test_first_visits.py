"""A new roll is not a perfect roll: members never visited are due for a first visit within the
interval from the day they joined, then overdue like everyone else; a volunteer with no visit
is listed, not left out. Frozen clock: a member added today, one added 8 days ago, one visited
yesterday."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from core.clock import LOCAL_TZ
from core.models import Member, User, Visit
from core.reports.visits import first_visits_due, overdue_members, reach
from tests.helpers.web import Client, add_user, page_text

NOW = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)  # 12:00 in Beijing
MOMENT = st.tuples(st.integers(0, 20), st.integers(0, 23))  # days ago, hour of that Beijing day


def roll(app, now=NOW):
    volunteer = add_user(app, "vol1", "volunteer")
    add_user(app, "vol2", "volunteer")  # never visits anyone
    with app.extensions["xiangyin.db"].session() as session:
        members = {
            "today": Member(name="新来的", created_at=now),
            "eight days": Member(name="八天前", created_at=now - timedelta(days=8)),
            "visited": Member(name="昨天走访", created_at=now - timedelta(days=30)),
        }
        session.add_all(members.values())
        session.flush()
        session.add(Visit(client_key=str(uuid.uuid4()), member_id=members["visited"].id, volunteer_id=volunteer.id,
                          visited_at=now - timedelta(days=1)))
        session.commit()
        return {key: member.id for key, member in members.items()}


def test_first_visit_due_then_overdue_with_a_frozen_clock(app):
    ids = roll(app)
    with app.extensions["xiangyin.db"].session() as session:
        members = [session.get(Member, member_id) for member_id in ids.values()]
        first = first_visits_due(session, members, 7, NOW)
        overdue = overdue_members(session, members, 7, NOW)
        assert [(f.member.id, f.days_left) for f in first] == [(ids["today"], 7)]
        assert [(o.member.id, o.days_overdue, o.last_visit) for o in overdue] == [(ids["eight days"], 1, None)]
        later = NOW + timedelta(days=8)
        assert [o.member.id for o in overdue_members(session, members, 7, later)] == [
            ids["eight days"], ids["visited"], ids["today"]], "then overdue like everyone else"
        assert first_visits_due(session, members, 7, later) == []


def test_the_pages_say_first_visit_and_list_a_volunteer_without_visits(app):
    now = datetime.now(UTC)
    roll(app, now)
    add_user(app, "admin1", "admin")
    admin = Client(app.test_client())
    admin.login("admin1")
    members = page_text(admin.get("/members/"))
    assert "新来的" in members and "待首次走访（还剩 7 天）" in members
    assert "八天前" in members and "超期 1 天" in members
    overview = admin.get("/visits").get_data(as_text=True)
    text = page_text(admin.get("/visits"))
    assert "都按时走访了" not in text and "还没走访过，待首次走访（1）" in text
    per_volunteer = overview[overview.index('id="per-volunteer"'):]
    assert "Vol2" in per_volunteer and "近 3 个月没有走访" in per_volunteer, "the volunteer with 0 visits is listed"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(MOMENT, st.one_of(st.none(), MOMENT), st.sampled_from(["", "流动", "老党员"])),
                min_size=1, max_size=12),
       st.integers(0, 23), st.integers(1, 14))
def test_the_overview_queries_keep_the_list_rules(app, members_spec, hour, interval):
    """reach() counts and cuts in SQL what overdue_members and first_visits_due decide in
    Python, on any roll: joined and last visited on any day at any hour (the hours just after
    a Beijing midnight, before the UTC one, included)."""
    today = datetime(2026, 11, 25, tzinfo=LOCAL_TZ)
    now = (today + timedelta(hours=hour, minutes=30)).astimezone(UTC)

    def moment(days_ago: int, at_hour: int) -> datetime:
        return (today - timedelta(days=days_ago) + timedelta(hours=at_hour)).astimezone(UTC)

    admin = _admin(app)
    with app.extensions["xiangyin.db"].session() as session:
        session.execute(delete(Visit))
        session.execute(delete(Member))
        members = []
        for n, (joined, visited, category) in enumerate(members_spec):
            member = Member(name=f"党员{n}", phone=str(n), category=category, created_at=min(now, moment(*joined)))
            session.add(member)
            session.flush()
            if visited is not None:
                session.add(Visit(client_key=str(uuid.uuid4()), member_id=member.id, volunteer_id=admin.id,
                                  visited_at=min(now, moment(*visited))))
            members.append(member)
        session.commit()
        found = reach(session, admin, interval, limit=5, now=now)
        overdue = overdue_members(session, members, interval, now)
        first = first_visits_due(session, members, interval, now)
        assert found.overdue_total == len(overdue) and found.first_due_total == len(first)
        # Most overdue first and soonest due first; members on the same day may come in either order.
        assert [o.days_overdue for o in found.overdue] == [o.days_overdue for o in overdue[:5]]
        assert [f.days_left for f in found.first_due] == [f.days_left for f in first[:5]]
        everyone = {(o.member.id, o.days_overdue, o.last_visit) for o in overdue}
        assert {(o.member.id, o.days_overdue, o.last_visit) for o in found.overdue} <= everyone
        assert {(f.member.id, f.due, f.days_left) for f in found.first_due} <= {(f.member.id, f.due, f.days_left)
                                                                               for f in first}

def _admin(app):
    with app.extensions["xiangyin.db"].session() as session:
        existing = session.scalar(select(User).where(User.username == "boss"))
    return existing or add_user(app, "boss", "admin")
