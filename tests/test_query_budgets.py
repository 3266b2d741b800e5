"""A page's query count must not grow with its rows: every list page and export is loaded
with 10 and with 200 rows of everything it lists, and must send the same number of
statements both times (on SQLite and on PostgreSQL)."""
from __future__ import annotations

import contextlib

from sqlalchemy import event

from tests.helpers.rows import seed
from tests.helpers.web import Client, add_user


@contextlib.contextmanager
def counted(app):
    """The statements the app's engine executes meanwhile."""
    statements: list[str] = []
    engine = app.extensions["xiangyin.db"].engine

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


PAGES = [
    ("admin", "/"),
    ("admin", "/series/{series}"),
    ("admin", "/lessons/{lesson}"),
    ("admin", "/members/"),
    ("admin", "/members/?all=1"),
    ("admin", "/members/{member}"),
    ("admin", "/members/export.xlsx"),
    ("admin", "/members/export.csv"),
    ("admin", "/visits"),
    ("admin", "/visits/export.xlsx?quarter=2026Q4"),
    ("admin", "/audit"),
    ("admin", "/packs/"),
    ("admin", "/packs/new"),
    ("admin", "/series/{series}/qr"),
    ("admin", "/stats?start=2026-11-01&end=2026-11-30"),
    ("admin", "/stats/plays.xlsx?start=2026-11-01&end=2026-11-30"),
    ("admin", "/stats/plays.csv?start=2026-11-01&end=2026-11-30"),
    ("admin", "/users/"),
    ("admin", "/messages"),
    ("volunteer", "/members/"),
    ("volunteer", "/messages"),
    ("admin", "/studio"),
    ("volunteer", "/studio"),
    ("volunteer", "/visits"),
    ("volunteer", "/packs/"),
    ("anonymous", "/s/{series_token}"),
]


def budget(make_app, folder, rows: int) -> dict[str, int]:
    app = make_app(DATA_DIR=str(folder / f"rows-{rows}"))
    add_user(app, "boss", "admin")
    add_user(app, "vol", "volunteer")
    ids = seed(app, rows)
    clients = {"anonymous": Client(app.test_client())}
    for role, name in (("admin", "boss"), ("volunteer", "vol")):
        clients[role] = Client(app.test_client())
        assert clients[role].login(name).status_code == 302
    counts = {}
    for role, page in PAGES:
        url = page.format(**ids)
        clients[role].get(url)  # warm: first-request work (lexicon cache, templates) is not what is measured
        with counted(app) as statements:
            response = clients[role].get(url)
            body = response.get_data()
        assert response.status_code == 200, (url, response.status_code)
        assert body, url
        counts[f"{role} {page}"] = len(statements)
    return counts


def test_list_pages_and_exports_cost_the_same_queries_for_10_and_200_rows(make_app, tmp_path):
    small, large = budget(make_app, tmp_path, 10), budget(make_app, tmp_path, 200)
    grew = {page: (small[page], large[page]) for page in small if large[page] > small[page]}
    assert not grew, f"queries that grow with the rows (10 rows, 200 rows): {grew}"
