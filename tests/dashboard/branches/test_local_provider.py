"""The local branch provider against the test cluster: real databases, real pg_dump/pg_restore."""

from __future__ import annotations

import os
import re
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from core.branch_roles import BRANCH_ROLE_COMMENT, ROLE_SCHEMA
from core.embedded import AUDIT_OWNER_ROLE, MAINTENANCE_ROLE, OWNER_ROLE
from dashboard.branches.local_provider import LocalProvider, branch_database_name
from dashboard.branches.provider import READY, BranchError, BranchInfo
from dashboard.branches.server_address import ServerAddress
from tests.pgbouncer import PgBouncer, leftover_settings
from tests.pgplugin import console_roles_on, running_layout


def _superuser(dbname: str = "postgres") -> psycopg.Connection:
    url = os.environ["PG_SUPERUSER_URL"].rsplit("/", 1)[0] + f"/{dbname}"
    return psycopg.connect(url, autocommit=True)


SECRET = "local-provider-test-secret"


@pytest.fixture
def source_database():
    """A database owned by the target role with a table of rows and a `django` schema, that
    only its owner and the console's roles may connect to (like the layout's own database):
    branches are made as the maintenance role, with the branch roles' functions."""
    name = f"lp_{secrets.token_hex(4)}"
    with _superuser() as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(OWNER_ROLE)
            )
        )
        conn.execute(
            sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(
                sql.Identifier(name)
            )
        )
    with psycopg.connect(running_layout().url(OWNER_ROLE, name), autocommit=True) as conn:
        conn.execute("CREATE TABLE lp_orders (id bigint PRIMARY KEY, total numeric NOT NULL)")
        conn.execute("INSERT INTO lp_orders SELECT g, g * 1.5 FROM generate_series(1, 500) AS g")
        conn.execute("CREATE INDEX lp_orders_total ON lp_orders (total)")
        conn.execute("CREATE SCHEMA django")
        conn.execute("CREATE TABLE django.console_only (id int)")
    console_roles_on(name)
    yield name
    with _superuser() as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname = %s OR starts_with(datname, %s)",
            (name, f"{name}__br__"),
        ).fetchall()
        for (dbname,) in rows:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
            )
        for (role,) in conn.execute(
            "SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s)", (f"{name}__br__",)
        ).fetchall():
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _role_exists(role: str) -> bool:
    with _superuser() as conn:
        return bool(conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone())


def _maintenance_url(dbname: str) -> str:
    return running_layout().url(MAINTENANCE_ROLE, dbname)


@pytest.fixture
def provider(source_database) -> LocalProvider:
    return LocalProvider(_maintenance_url(source_database), secret=SECRET)


def _count(url: str, query: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute(query).fetchone()[0])


def test_clone_copies_data_while_another_session_holds_the_source_open(provider, source_database):
    lines: list[str] = []
    source_url = running_layout().url(OWNER_ROLE, source_database)
    # An open transaction on the source: CREATE DATABASE ... TEMPLATE would refuse now.
    with psycopg.connect(source_url) as busy:
        busy.execute("SELECT count(*) FROM lp_orders").fetchone()
        branch = provider.create_branch("try-it", progress=lines.append)
        assert busy.execute("SELECT 1").fetchone() == (1,)  # the other session is untouched

    assert branch.id == f"{source_database}__br__try-it"
    assert branch.name == "try-it"
    assert branch.state == READY
    assert branch.parent_id == source_database
    assert branch.size_bytes and branch.size_bytes > 0
    url = provider.connection_urls(branch.id).direct
    assert url.endswith(f"/{branch.id}")
    assert _count(url, "SELECT count(*) FROM lp_orders") == 500
    assert _count(url, "SELECT sum(total)::int FROM lp_orders") == _count(
        source_url, "SELECT sum(total)::int FROM lp_orders"
    )
    assert _count(url, "SELECT count(*) FROM pg_indexes WHERE indexname = 'lp_orders_total'") == 1
    # The console's own schema is never copied.
    assert _count(url, "SELECT count(*) FROM pg_namespace WHERE nspname = 'django'") == 0
    assert any("pg_dump | pg_restore" in line for line in lines)
    assert any("ready" in line for line in lines)
    # No password in the progress lines.
    for role in (OWNER_ROLE, MAINTENANCE_ROLE):
        password = running_layout().passwords[role]
        assert not any(password in line for line in lines)


def test_schema_only_branch_has_tables_but_no_rows(provider):
    branch = provider.create_branch("shape", schema_only=True)
    url = provider.connection_urls(branch.id).direct
    assert _count(url, "SELECT count(*) FROM lp_orders") == 0
    assert branch.extra["schema_only"] is True
    assert provider.schema_diff(branch.id) == ""


def test_expiry_is_stored_with_the_branch_and_listed(provider, source_database):
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=6)
    provider.create_branch("later", schema_only=True, expires_at=expires)
    listed = {branch.name: branch for branch in provider.list_branches()}
    assert listed["later"].expires_at == expires
    # The list is read from the server alone: a fresh provider object sees the same.
    fresh = LocalProvider(_maintenance_url(source_database), secret=SECRET)
    assert fresh.get_branch(listed["later"].id).expires_at == expires
    assert provider.expired_branches(now=expires + timedelta(seconds=1))[0].name == "later"
    assert provider.expired_branches(now=expires - timedelta(seconds=1)) == []


def test_schema_diff_and_reset(provider):
    branch = provider.create_branch("diff-me")
    url = provider.connection_urls(branch.id).direct
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE lp_orders ADD COLUMN coupon text")
        conn.execute("DELETE FROM lp_orders WHERE id > 10")
    diff = provider.schema_diff(branch.id)
    assert "+    coupon text" in diff
    reset = provider.reset_branch(branch.id)
    assert reset.state == READY
    assert provider.schema_diff(branch.id) == ""
    assert _count(url, "SELECT count(*) FROM lp_orders") == 500


def test_delete_drops_the_database_even_with_a_session_on_it(provider):
    branch = provider.create_branch("bye")
    holder = psycopg.connect(provider.connection_urls(branch.id).direct)
    try:
        provider.delete_branch(branch.id)
    finally:
        holder.close()
    assert branch.id not in {b.id for b in provider.list_branches()}
    assert not _role_exists(branch.id)
    with _superuser() as conn:
        assert (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (branch.id,)).fetchone()
            is None
        )


def test_delete_of_a_missing_branch_says_so(provider, source_database):
    with pytest.raises(BranchError, match="There is no branch"):
        provider.delete_branch(f"{source_database}__br__never-made")


def test_the_target_itself_is_never_a_branch(provider, source_database):
    with pytest.raises(BranchError):
        provider.delete_branch(source_database)
    with _superuser() as conn:
        assert conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (source_database,)
        ).fetchone()


def test_an_existing_name_is_refused(provider):
    provider.create_branch("twice", schema_only=True)
    with pytest.raises(BranchError, match="exists already"):
        provider.create_branch("twice", schema_only=True)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Upper",
        "under_score",
        "-dash-first",
        "dash-last-",
        "semi;colon",
        "x" * 41,
        "a b",
        "nl\n",
    ],
)
def test_bad_names_are_refused_before_anything_is_created(provider, name):
    before = provider.list_branches()
    with pytest.raises(BranchError, match="not a valid branch name"):
        provider.create_branch(name)
    assert provider.list_branches() == before


def test_a_name_that_would_overflow_the_identifier_is_refused():
    with pytest.raises(BranchError, match="too long"):
        branch_database_name("d" * 40, "a" * 20)
    assert branch_database_name("shop", "fix-42") == "shop__br__fix-42"


def test_point_in_time_is_not_supported_locally(provider):
    assert provider.supports_point_in_time is False
    with pytest.raises(BranchError, match="point-in-time"):
        provider.create_branch("pit", point_in_time=datetime.now(UTC))


def test_a_failed_copy_leaves_no_database_behind(provider, source_database):
    # A table owned by another role cannot be dumped by the target role: pg_dump fails.
    with _superuser(source_database) as conn:
        conn.execute("CREATE TABLE lp_secret (id int)")
        conn.execute("REVOKE ALL ON lp_secret FROM PUBLIC")
    with pytest.raises(BranchError, match="pg_dump failed"):
        provider.create_branch("doomed")
    assert "doomed" not in {b.name for b in provider.list_branches()}
    assert not _role_exists(f"{source_database}__br__doomed")  # its role went with it


def test_get_provider_builds_a_local_provider_from_settings(settings):
    from dashboard.branches.provider import get_provider

    settings.BRANCH_PROVIDER = "local"
    provider = get_provider()
    assert isinstance(provider, LocalProvider)
    assert provider.name == "local"
    assert provider.target_database == "schemadesk_test"
    assert "password" not in repr(provider).lower()
    assert running_layout().passwords[OWNER_ROLE] not in repr(provider)
    assert isinstance(provider.list_branches(), list)
    assert all(isinstance(b, BranchInfo) for b in provider.list_branches())


# ---- the branch's own role ------------------------------------------------------------------


def _connects(url: str, refused_because: str = "permission denied for database") -> bool:
    """Try a real connection: True if it opens, False if refused for the expected reason."""
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        assert refused_because in str(exc), exc
        return False
    return True


def named_databases(warning: str) -> list[str]:
    """Return the databases a reveal's warning says the branch's role can still open."""
    found = re.search(r"connect to (.+?), because CONNECT", warning)
    return found.group(1).split(", ") if found else []


def test_the_revealed_url_opens_the_branch_and_not_the_parent(provider, source_database):
    owner_password = running_layout().passwords[OWNER_ROLE]
    branch = provider.create_branch("mine")
    other = provider.create_branch("theirs", schema_only=True)
    urls = provider.connection_urls(branch.id)

    parts = urlsplit(urls.direct)
    assert parts.username == branch.id == urls.role != OWNER_ROLE
    assert parts.password and owner_password not in urls.direct
    assert source_database not in named_databases(urls.warning)  # the parent is closed
    with psycopg.connect(urls.direct, autocommit=True) as conn:  # reads and writes its tables
        assert conn.execute("SELECT current_user").fetchone() == (branch.id,)
        conn.execute("INSERT INTO lp_orders VALUES (1001, 2)")
        conn.execute("ALTER TABLE lp_orders ADD COLUMN note text")  # it owns them
        assert conn.execute("SELECT count(*) FROM lp_orders").fetchone() == (501,)

    # The same login, pointed at the parent, at another branch or at the console's database.
    same_login = ServerAddress(urls.direct)
    for dbname in (source_database, other.id, "schemadesk_test"):
        assert not _connects(same_login.with_database(dbname)), dbname
    assert _connects(same_login.with_database(branch.id))
    # And the other branch's role cannot open this one.
    assert not _connects(
        ServerAddress(provider.connection_urls(other.id).direct).with_database(branch.id)
    )


def test_a_parent_open_to_public_is_named_and_its_tables_stay_closed(provider, source_database):
    with _superuser() as conn:
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO PUBLIC").format(
                sql.Identifier(source_database)
            )
        )
    branch = provider.create_branch("open-door", schema_only=True)
    urls = provider.connection_urls(branch.id)
    assert source_database in named_databases(urls.warning)
    assert f"REVOKE CONNECT ON DATABASE {', '.join(named_databases(urls.warning))} FROM" in (
        urls.warning
    )
    parent_url = ServerAddress(urls.direct).with_database(source_database)
    with psycopg.connect(parent_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT count(*) FROM lp_orders")


def test_every_other_database_the_revealed_url_opens_is_named(provider, source_database):
    """The reveal must not claim more than holds: CONNECT granted to PUBLIC (the default for
    any database, `postgres` and `template1` included) lets the branch's role in there too."""
    open_door = f"lp_open_{secrets.token_hex(3)}"
    with _superuser() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(open_door)))
    try:
        branch = provider.create_branch("honest", schema_only=True)
        urls = provider.connection_urls(branch.id)
        same_login = ServerAddress(urls.direct)
        with _superuser() as conn:
            databases = [
                name
                for (name,) in conn.execute(
                    "SELECT datname FROM pg_database WHERE datallowconn AND datname <> %s",
                    [branch.id],
                )
            ]
        opens = sorted(name for name in databases if _connects(same_login.with_database(name)))
        assert open_door in opens and source_database not in opens
        assert named_databases(urls.warning) == opens
        assert f"REVOKE CONNECT ON DATABASE {', '.join(opens)} FROM PUBLIC" in urls.warning
    finally:
        with _superuser() as conn:
            conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(open_door)))


def test_the_password_is_derived_never_stored_and_changes_with_the_role(provider, source_database):
    branch = provider.create_branch("derived", schema_only=True)
    first = provider.connection_urls(branch.id).direct
    # Stateless: a fresh provider derives the same password; another SECRET_KEY does not.
    again = LocalProvider(_maintenance_url(source_database), secret=SECRET)
    assert again.connection_urls(branch.id).direct == first
    other_key = LocalProvider(_maintenance_url(source_database), secret="x")
    assert other_key.connection_urls(branch.id).direct != first
    # A reset keeps the role and its password; the same name made again gets a new one.
    provider.reset_branch(branch.id)
    assert provider.connection_urls(branch.id).direct == first and _connects(first)
    provider.delete_branch(branch.id)
    assert not _role_exists(branch.id)
    provider.create_branch("derived", schema_only=True)
    assert provider.connection_urls(branch.id).direct != first
    assert not _connects(first, refused_because="password authentication failed")
    # The server only ever saw a SCRAM verifier, never the clear password.
    password = urlsplit(first).password
    with _superuser() as conn:
        stored = conn.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (branch.id,)
        ).fetchone()[0]
    assert stored.startswith("SCRAM-SHA-256$") and password not in stored


def test_a_role_of_the_same_name_made_elsewhere_is_refused_and_kept(provider, source_database):
    role = f"{source_database}__br__taken"
    with _superuser() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    with pytest.raises(BranchError, match="was not made by the console"):
        provider.create_branch("taken", schema_only=True)
    assert _role_exists(role)
    assert "taken" not in {b.name for b in provider.list_branches()}


# ---- the branch's role is made by functions: the maintenance role has no CREATEROLE -----------


def test_branches_are_made_by_a_maintenance_role_that_cannot_reach_the_audit_owner(provider):
    branch = provider.create_branch("no-createrole", schema_only=True)
    provider.reset_branch(branch.id)
    provider.delete_branch(branch.id)
    assert not _role_exists(branch.id)
    with _superuser() as conn:
        row = conn.execute(
            "SELECT r.rolcreaterole, pg_has_role(r.oid, %s, 'MEMBER') "
            "FROM pg_roles AS r WHERE r.rolname = %s",
            (AUDIT_OWNER_ROLE, MAINTENANCE_ROLE),
        ).fetchone()
    assert row == (False, False)


def test_a_role_marked_as_a_branchs_but_given_more_is_refused_and_kept(provider, source_database):
    """The client trusts the mark; the functions look at the role itself."""
    role = f"{source_database}__br__marked"
    with _superuser() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE").format(sql.Identifier(role)))
        conn.execute(
            sql.SQL("COMMENT ON ROLE {} IS {}").format(
                sql.Identifier(role), sql.Literal(BRANCH_ROLE_COMMENT)
            )
        )
    with pytest.raises(BranchError, match=r"refused to manage role .*not made by the console"):
        provider.create_branch("marked", schema_only=True)
    assert _role_exists(role)  # the clean-up after the failure kept it too
    assert "marked" not in {b.name for b in provider.list_branches()}


def test_without_the_functions_a_branch_is_refused_with_what_to_run(provider, source_database):
    with _superuser(source_database) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(ROLE_SCHEMA)))
    with pytest.raises(BranchError, match=f"functions of schema {ROLE_SCHEMA}, which this"):
        provider.create_branch("no-functions", schema_only=True)
    assert not _role_exists(f"{source_database}__br__no-functions")


def test_a_maintenance_role_not_allowed_the_functions_is_told_what_it_needs(
    provider, source_database
):
    with _superuser(source_database) as conn:
        conn.execute(
            sql.SQL("REVOKE EXECUTE ON FUNCTION {}.create_branch_role(text) FROM {}").format(
                sql.Identifier(ROLE_SCHEMA), sql.Identifier(MAINTENANCE_ROLE)
            )
        )
    with pytest.raises(BranchError, match=f"EXECUTE on the functions of schema {ROLE_SCHEMA}"):
        provider.create_branch("not-allowed", schema_only=True)


def test_the_functions_are_not_copied_into_a_branch(provider, source_database):
    branch = provider.create_branch("copy", schema_only=True)
    url = provider.connection_urls(branch.id).direct
    query = f"SELECT count(*) FROM pg_namespace WHERE nspname = '{ROLE_SCHEMA}'"
    assert _count(url, query) == 0
    assert _count(_maintenance_url(source_database), query) == 1


def test_a_branch_without_a_role_of_its_own_reveals_nothing(provider, source_database):
    branch = provider.create_branch("legacy", schema_only=True)
    with _superuser() as conn:  # as a branch made before branches had their own role
        conn.execute(sql.SQL("COMMENT ON ROLE {} IS NULL").format(sql.Identifier(branch.id)))
    with pytest.raises(BranchError, match="has no role of its own"):
        provider.connection_urls(branch.id)


# ---- no setting left behind on a pooled server connection -----------------------------------


def test_maintenance_leaves_no_setting_on_pooled_server_connections(source_database):
    password = running_layout().passwords[MAINTENANCE_ROLE]
    with PgBouncer(running_layout().port, {MAINTENANCE_ROLE: password}) as bouncer:
        pooled = LocalProvider(
            bouncer.url(MAINTENANCE_ROLE, password, source_database), secret=SECRET
        )
        source = bouncer.url(MAINTENANCE_ROLE, password, source_database)
        assert leftover_settings(source) == {}
        seen: dict[str, dict[str, str]] = {}

        pooled.list_branches()
        seen["list"] = leftover_settings(source)
        branch = pooled.create_branch("pooled")
        seen["create"] = leftover_settings(source)
        seen["create (branch)"] = leftover_settings(
            bouncer.url(MAINTENANCE_ROLE, password, branch.id)
        )
        pooled.connection_urls(branch.id)
        seen["reveal"] = leftover_settings(source)
        assert pooled.schema_diff(branch.id) == ""
        seen["diff"] = leftover_settings(source)
        pooled.reset_branch(branch.id)
        seen["reset"] = leftover_settings(source)
        pooled.delete_branch(branch.id)
        seen["delete"] = leftover_settings(source)

    assert seen == {action: {} for action in seen}


# ---- schema difference of an untouched branch -------------------------------------------------


def test_an_untouched_clone_shows_no_difference_though_pg_restore_rewords_its_checks(
    provider, source_database
):
    with psycopg.connect(running_layout().url(OWNER_ROLE, source_database)) as conn:
        conn.execute(
            "CREATE TABLE lp_messages (id bigint PRIMARY KEY, role varchar(20) NOT NULL, "
            "CONSTRAINT ck_lp_messages_role CHECK (role IN ('user', 'assistant')))"
        )
    branch = provider.create_branch("reworded", schema_only=True)

    def raw_check(dbname: str) -> str:
        with _superuser(dbname) as conn:
            return conn.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conname = 'ck_lp_messages_role'"
            ).fetchone()[0]

    # The clone's constraint reads differently from its parent's, yet means the same.
    assert raw_check(branch.id) != raw_check(source_database)
    assert provider.schema_diff(branch.id) == ""

    with psycopg.connect(provider.connection_urls(branch.id).direct, autocommit=True) as conn:
        conn.execute("ALTER TABLE lp_messages DROP CONSTRAINT ck_lp_messages_role")
        conn.execute(
            "ALTER TABLE lp_messages ADD CONSTRAINT ck_lp_messages_role "
            "CHECK (role IN ('user', 'assistant', 'system'))"
        )
    diff = provider.schema_diff(branch.id)
    assert (
        "-    CONSTRAINT ck_lp_messages_role CHECK (role = ANY(ARRAY['user', 'assistant']))" in diff
    )
    assert "'system'" in diff
