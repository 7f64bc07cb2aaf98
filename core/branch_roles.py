"""The functions that make, re-key and drop local branches' login roles, and the role they run as.

Each local branch has a login role of its own (dashboard/branches/local_roles.py). Making roles
needs CREATEROLE, and on PostgreSQL 15 and older a role with CREATEROLE may grant itself any role
that is not a superuser, the audit trail's owner included (16 limits it to the roles it made).
So no role the console logs in as holds it. The maintenance role calls three SECURITY DEFINER
functions instead, owned by `schemadesk_role_admin`: a role that cannot log in, has CREATEROLE
and nothing else, belongs to no role and has no member, so no login can become it. They live in
schema `schemadesk_roles` of the target's database (owned by that role; USAGE for the
maintenance role alone, so nobody else may replace or add a function there; left out of branch
copies), run with a pinned search_path, and do only this:

- `create_branch_role(name) → oid`: make the login role `name`, with no other attribute, marked
  as a branch role (its comment), and make the maintenance role a member of it (it creates the
  branch database owned by it and restores into it as it); an existing branch role is kept;
- `set_branch_role_password(name, verifier)`: give it a SCRAM-SHA-256 verifier (never a clear
  password, which would show in statements);
- `drop_branch_role(name) → boolean`: drop it (false when there is none).

Each accepts only `<this database>__br__<branch name>` (the branch names' own pattern, at most 63
bytes, so no name is cut into another), and, when such a role exists, only one that carries the
mark, no attribute beyond LOGIN and no membership in another role: the audit owner, the console's
roles and any role made elsewhere are refused, whatever the name. Only the maintenance role may
EXECUTE them (not PUBLIC). Rendered by branch_role_functions_sql for `make demo`, the tests,
compose (`python -m core.embedded`) and `manage.py connect`; the README shows the same text.
"""

from __future__ import annotations

from psycopg import sql

ROLE_ADMIN = "schemadesk_role_admin"
ROLE_SCHEMA = "schemadesk_roles"
BRANCH_MARKER = "__br__"  # <target database>__br__<branch name>: a branch's database and role
BRANCH_NAME_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$"
BRANCH_ROLE_COMMENT = "schemadesk-branch-role"  # COMMENT ON ROLE of the roles the functions make
MAX_IDENTIFIER_BYTES = 63  # NAMEDATALEN - 1: a longer name would be cut to another one
# What Postgres stores for a SCRAM-SHA-256 password: iterations, salt, stored and server keys.
SCRAM_VERIFIER_PATTERN = (
    r"^SCRAM-SHA-256[$][0-9]+:[A-Za-z0-9+/]+={0,2}[$][A-Za-z0-9+/]+={0,2}:[A-Za-z0-9+/]+={0,2}$"
)
# What the maintenance role may call (the check they share is not among them).
GRANTED_FUNCTIONS = (
    "create_branch_role(text)",
    "set_branch_role_password(text, text)",
    "drop_branch_role(text)",
)
CHECK_FUNCTION = "branch_role_oid(text)"

CHECK_SQL = """
CREATE OR REPLACE FUNCTION {schema}.branch_role_oid(role_name text)
RETURNS oid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    prefix text := current_database() || {marker};
    candidate record;
BEGIN
    IF role_name IS NULL
        OR octet_length(role_name) > {max_bytes}
        OR NOT starts_with(role_name, prefix)
        OR substr(role_name, length(prefix) + 1) !~ {name_pattern}
    THEN
        RAISE EXCEPTION 'Role name % is not that of a branch of database %.',
            quote_ident(role_name), current_database()
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT
        r.oid,
        r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls
            AS privileged,
        shobj_description(r.oid, 'pg_authid') AS mark,
        EXISTS (SELECT 1 FROM pg_auth_members AS m WHERE m.member = r.oid) AS member
    INTO candidate
    FROM pg_roles AS r
    WHERE r.rolname = role_name;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF candidate.mark IS DISTINCT FROM {comment}
        OR candidate.privileged
        OR candidate.member
    THEN
        RAISE EXCEPTION 'Role % exists and was not made by the console for a branch.',
            quote_ident(role_name)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN candidate.oid;
END
$function$
"""

CREATE_SQL = """
CREATE OR REPLACE FUNCTION {schema}.create_branch_role(role_name text)
RETURNS oid
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    made oid := {schema}.branch_role_oid(role_name);
BEGIN
    IF made IS NULL THEN
        EXECUTE format(
            'CREATE ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION '
            'NOBYPASSRLS',
            role_name
        );
        EXECUTE format('COMMENT ON ROLE %I IS %L', role_name, {comment});
        made := {schema}.branch_role_oid(role_name);
    END IF;
    EXECUTE format('GRANT %I TO %I', role_name, {maintenance});
    RETURN made;
END
$function$
"""

REKEY_SQL = """
CREATE OR REPLACE FUNCTION {schema}.set_branch_role_password(role_name text, verifier text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    IF verifier IS NULL OR verifier !~ {verifier_pattern} THEN
        RAISE EXCEPTION 'Only a SCRAM-SHA-256 verifier is accepted, never a password.'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF {schema}.branch_role_oid(role_name) IS NULL THEN
        RAISE EXCEPTION 'There is no role %.', quote_ident(role_name)
            USING ERRCODE = 'undefined_object';
    END IF;
    EXECUTE format('ALTER ROLE %I WITH LOGIN PASSWORD %L', role_name, verifier);
END
$function$
"""

DROP_SQL = """
CREATE OR REPLACE FUNCTION {schema}.drop_branch_role(role_name text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    IF {schema}.branch_role_oid(role_name) IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('DROP ROLE %I', role_name);
    RETURN true;
END
$function$
"""


def branch_role_functions_sql(
    maintenance_role: str, *, admin_role: str = ROLE_ADMIN, schema: str = ROLE_SCHEMA
) -> list[sql.Composed]:
    """Return the statements making the branch roles' functions in the current database.

    Run by a superuser where the maintenance role connects (the target's database), after
    `admin_role` exists (core.embedded.role_admin_sql). Idempotent: a function replaced keeps
    its owner and grants. USAGE on the schema comes last, once every function is the admin
    role's and PUBLIC may not execute it.
    """
    names = {
        "schema": sql.Identifier(schema),
        "marker": sql.Literal(BRANCH_MARKER),
        "max_bytes": sql.Literal(MAX_IDENTIFIER_BYTES),
        "name_pattern": sql.Literal(BRANCH_NAME_PATTERN),
        "verifier_pattern": sql.Literal(SCRAM_VERIFIER_PATTERN),
        "comment": sql.Literal(BRANCH_ROLE_COMMENT),
        "maintenance": sql.Literal(maintenance_role),
    }
    admin = sql.Identifier(admin_role)
    maintenance = sql.Identifier(maintenance_role)
    statements = [
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(names["schema"], admin),
        sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(names["schema"], admin),
        sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(names["schema"]),
        sql.SQL("REVOKE CREATE ON SCHEMA {} FROM {}").format(names["schema"], maintenance),
    ]
    bodies = zip(
        (CHECK_FUNCTION, *GRANTED_FUNCTIONS),
        (CHECK_SQL, CREATE_SQL, REKEY_SQL, DROP_SQL),
        strict=True,
    )
    for signature, body in bodies:
        function = sql.SQL("{}.{}").format(names["schema"], sql.SQL(signature))
        statements += [
            sql.SQL(body.strip()).format(**names),
            sql.SQL("REVOKE ALL ON FUNCTION {} FROM PUBLIC").format(function),
            sql.SQL("ALTER FUNCTION {} OWNER TO {}").format(function, admin),
        ]
    for signature in GRANTED_FUNCTIONS:
        function = sql.SQL("{}.{}").format(names["schema"], sql.SQL(signature))
        statements.append(
            sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(function, maintenance)
        )
    statements.append(
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(names["schema"], maintenance)
    )
    return statements
