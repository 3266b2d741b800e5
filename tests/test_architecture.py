"""The claims of docs/architecture.md that a program can check: imports go only downward
(web and scripts → core → audio), core and audio never import Flask, audio never touches the
database, core commits only in the places the document lists, and test modules share code
only through tests/helpers/."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Room → top-level names it must not import. audio/ is sound and files (no database, no
# records); core/ is records and rules (no web); the shells do not import each other.
FORBIDDEN = {
    "audio": {"core", "web", "scripts", "app", "flask", "flask_login", "werkzeug", "sqlalchemy", "alembic"},
    "core": {"web", "scripts", "app", "flask", "flask_login"},
    "web": {"scripts"},
}

# Where core/ commits, as docs/architecture.md lists them: the queue and the job handlers it
# runs, the listen page's own posts (heartbeats, offline listening, messages, answers, replies), the login
# lock-out counter. Everything else flushes; the caller commits.
COMMITS = {
    ("core/queue.py", "enqueue"), ("core/queue.py", "claim"), ("core/queue.py", "_mark"), ("core/queue.py", "finish"),
    ("core/queue.py", "set_progress"), ("core/queue.py", "requeue_orphans"), ("core/worker.py", "_heartbeat"),
    ("core/render_jobs.py", "run_render"), ("core/render_jobs.py", "run_recording"),
    ("core/studio.py", "run_assembly"), ("core/render_jobs.py", "finish_rendition"),
    ("core/render_jobs.py", "fail_rendition"),
    ("core/plays.py", "record_beat"), ("core/plays.py", "open_listen"), ("core/offline.py", "record_offline"),
    ("core/messages.py", "leave_message"), ("core/messages.py", "_count_refusal"),
    ("core/questions.py", "answer_from_phone"),
    ("core/replies.py", "waiting_replies"), ("core/replies.py", "mark_heard"), ("core/replies.py", "run_reply"),
    ("core/users.py", "_reserve_attempt"), ("core/users.py", "authenticate"),
    ("core/reports/rollups.py", "run_rollups"),
}


def modules(*rooms: str) -> list[Path]:
    return sorted(path for room in rooms for path in (ROOT / room).rglob("*.py"))


def imported(tree: ast.AST) -> set[str]:
    """Top-level package names imported anywhere in a module, function bodies included."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_imports_go_only_downward(room):
    wrong = {str(path.relative_to(ROOT)): sorted(imported(ast.parse(path.read_text())) & FORBIDDEN[room])
             for path in modules(room)}
    assert {path: names for path, names in wrong.items() if names} == {}


def test_core_commits_only_where_the_architecture_says():
    found = set()
    for path in modules("core"):
        for function in ast.walk(ast.parse(path.read_text())):
            if not isinstance(function, ast.FunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "commit":
                    found.add((str(path.relative_to(ROOT)), function.name))
    assert found - COMMITS == set(), "a core service commits: flush, and let the view or command commit"
    assert COMMITS - found == set(), "a listed place no longer commits: take it off the list (and the document)"
    document = (ROOT / "docs" / "architecture.md").read_text()
    assert all(f"`{name}`" in document for _, name in COMMITS), "every exception is named in docs/architecture.md"


def test_test_modules_share_code_only_through_helpers():
    wrong = {}
    for path in (ROOT / "tests").glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tests.test_"):
                wrong[path.name] = node.module
    assert wrong == {}


# Migrations before this one were written when one machine was stopped for an upgrade.
EXPAND_THEN_CONTRACT_FROM = "0022"
REMOVING = ("drop_column", "drop_table", "rename_table", "new_column_name")


def test_migrations_add_before_they_take_away():
    """During a roll-out the previous release keeps serving while `xiangyin init` runs, so a
    migration only adds; one that removes or renames says, in a "Contract:" line, which
    earlier release stopped using what it removes."""
    for path in sorted((ROOT / "migrations" / "versions").glob("0*.py")):
        if path.name[:4] < EXPAND_THEN_CONTRACT_FROM:
            continue
        tree = ast.parse(path.read_text())
        upgrade = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "upgrade")
        removes = [word for word in REMOVING if word in ast.unparse(upgrade)]
        said = "\nContract:" in (ast.get_docstring(tree) or "")
        assert not removes or said, f"{path.name} removes ({', '.join(removes)}) without a Contract: line"
