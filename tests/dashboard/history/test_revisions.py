"""History, database state and the graph, read from real Alembic projects and databases."""

from __future__ import annotations

import pytest

from dashboard.history.graph import revision_graph
from dashboard.history.project import ProjectError, load_project
from dashboard.history.revisions import (
    AT_BASE,
    BEHIND,
    UNKNOWN_VERSION,
    UNMANAGED,
    UP_TO_DATE,
    UnknownRevision,
    database_state,
    revision_history,
    revision_named,
)
from tests.dashboard.history.conftest import migrate, stamp

pytestmark = pytest.mark.django_db


def test_history_is_newest_first_with_dates_and_links(
    console_on, numbered_project, project_database
):
    console_on(numbered_project, project_database)
    history = revision_history()
    assert [r.id for r in history] == ["003", "002", "001"]
    newest = history[0]
    assert newest.message == "Drop the note, index the name"
    assert newest.created == "2025-02-03 09:00:00.000000"
    assert newest.created_at is not None and newest.created_at.day == 3
    assert newest.down_revisions == ("002",)
    assert newest.is_head and not history[2].down_revisions and history[2].is_base
    assert history[1].children == ("003",)


def test_unmanaged_database_has_everything_pending_in_run_order(
    console_on, numbered_project, project_database
):
    console_on(numbered_project, project_database)
    state = database_state()
    assert state.status == UNMANAGED
    assert "not managed by Alembic" in state.sentence
    assert [r.id for r in state.pending] == ["001", "002", "003"]


def test_empty_version_table_is_base(console_on, numbered_project, project_database):
    console_on(numbered_project, project_database)
    stamp(numbered_project, project_database)
    state = database_state()
    assert state.status == AT_BASE
    assert [r.id for r in state.pending] == ["001", "002", "003"]


def test_behind_and_up_to_date(console_on, numbered_project, project_database):
    console_on(numbered_project, project_database)
    migrate(numbered_project, project_database, "001")
    state = database_state()
    assert state.status == BEHIND
    assert state.heads == ("001",)
    assert [r.id for r in state.pending] == ["002", "003"]
    assert state.sentence.startswith("2 revisions pending:")
    migrate(numbered_project, project_database, "head")
    state = database_state()
    assert state.status == UP_TO_DATE
    assert state.pending == []


def test_a_revision_the_scripts_do_not_know(console_on, numbered_project, project_database):
    console_on(numbered_project, project_database)
    stamp(numbered_project, project_database, "ffff0000beef")
    state = database_state()
    assert state.status == UNKNOWN_VERSION
    assert state.unknown == ("ffff0000beef",)
    assert "ahead of this code, or scripts are missing" in state.sentence


def test_branches_merge_and_several_database_heads(console_on, branched_project, project_database):
    console_on(branched_project, project_database)
    history = revision_history()
    ids = [r.id for r in history]
    assert ids[0] == "5e6f708192a3" and ids[-1] == "1a2b3c4d5e6f"
    split = revision_named("2b3c4d5e6f70")
    assert split.is_branch_point and set(split.children) == {"3c4d5e6f7081", "4d5e6f708192"}
    merge = revision_named("5e6f708192a3")
    assert merge.is_merge
    assert revision_named("3c4d5e6f7081").branch_labels == ("left",)
    assert merge.branch_labels == ()  # Alembic propagates labels; we show where declared
    # The database sits on both branches at once: two heads, only the merge is pending.
    stamp(branched_project, project_database, "3c4d5e6f7081", "4d5e6f708192")
    state = database_state()
    assert state.heads == ("3c4d5e6f7081", "4d5e6f708192")
    assert [r.id for r in state.pending] == ["5e6f708192a3"]
    # Only one of the branches applied: the other side runs before the merge.
    stamp(branched_project, project_database, "3c4d5e6f7081")
    assert [r.id for r in database_state().pending] == ["4d5e6f708192", "5e6f708192a3"]


def test_graph_lays_out_branch_point_and_merge(console_on, branched_project, project_database):
    console_on(branched_project, project_database)
    history = revision_history()
    layout = revision_graph(history, current=("2b3c4d5e6f70",), pending=("5e6f708192a3",))
    assert layout.lanes == 2
    by_id = {node.revision.id: node for node in layout.nodes}
    # The two sides of the branch sit in different lanes; the rest share the first lane.
    assert by_id["3c4d5e6f7081"].lane != by_id["4d5e6f708192"].lane
    assert by_id["5e6f708192a3"].lane == by_id["1a2b3c4d5e6f"].lane == 0
    assert "merge" in by_id["5e6f708192a3"].markers
    assert "branch point" in by_id["2b3c4d5e6f70"].markers
    assert "current" in by_id["2b3c4d5e6f70"].classes
    assert "pending" in by_id["5e6f708192a3"].classes
    # One edge per parent link: 1 + 1 + 1 + 2 = 5.
    assert len(layout.edges) == sum(len(r.down_revisions) for r in history)
    assert all(edge.path.startswith("M") for edge in layout.edges)


def test_unknown_revision_is_a_404_with_a_sentence(console_on, numbered_project, project_database):
    console_on(numbered_project, project_database)
    with pytest.raises(UnknownRevision, match="There is no revision '999'"):
        revision_named("999")


def test_missing_config_names_the_setting(settings):
    settings.ALEMBIC_CONFIG = "/nonexistent/alembic.ini"
    with pytest.raises(ProjectError) as caught:
        load_project()
    assert caught.value.setting == "ALEMBIC_CONFIG"
    assert "/nonexistent/alembic.ini" in caught.value.sentence


def test_config_without_script_location(settings, tmp_path):
    ini = tmp_path / "alembic.ini"
    ini.write_text("[alembic]\nsqlalchemy.url = postgresql://x@y/z\n")
    settings.ALEMBIC_CONFIG = str(ini)
    with pytest.raises(ProjectError, match="no script_location"):
        load_project()


def test_revision_script_that_fails_to_load(settings, tmp_path, numbered_project):
    bad = numbered_project.root / "migrations" / "versions" / "009_bad.py"
    bad.write_text("revision = '009'\ndown_revision = '003'\nimport schemadesk_not_installed\n")
    settings.ALEMBIC_CONFIG = str(numbered_project.ini)
    with pytest.raises(ProjectError, match="schemadesk_not_installed"):
        load_project()


def test_this_projects_own_migrations_are_up_to_date_on_the_test_database(settings):
    """The default settings read this repository's alembic.ini; the test run applied its head."""
    project = load_project()
    heads = tuple(project.script.get_heads())
    state = database_state(project)
    assert state.status == UP_TO_DATE
    assert state.heads == heads
