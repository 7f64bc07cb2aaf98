"""Catalog SQL of the local provider: branch databases and roles, notes, sizes, extensions."""

from core.branch_roles import ROLE_SCHEMA

BRANCH_DATABASES_SQL = """
SELECT d.datname AS dbname,
       pg_catalog.shobj_description(d.oid, 'pg_database') AS comment,
       pg_catalog.pg_database_size(d.oid) AS size_bytes
FROM pg_catalog.pg_database AS d
WHERE starts_with(d.datname, %(prefix)s)
ORDER BY d.datname
"""

DATABASE_EXISTS_SQL = """
SELECT 1
FROM pg_catalog.pg_database
WHERE datname = %(dbname)s
"""

SERVER_MAJOR_SQL = """
SELECT current_setting('server_version_num')::int / 10000 AS major
"""

# Extensions a non-superuser may copy: trusted ones (PG13+), or all of them for a superuser.
COPYABLE_EXTENSIONS_SQL = """
SELECT e.extname AS name,
       (r.rolsuper OR coalesce(v.trusted, false)) AS copyable
FROM pg_catalog.pg_extension AS e
JOIN pg_catalog.pg_roles AS r
  ON r.rolname = current_user
LEFT JOIN pg_catalog.pg_available_extension_versions AS v
  ON v.name = e.extname
 AND v.version = e.extversion
WHERE e.extname <> 'plpgsql'
ORDER BY e.extname
"""

# The OID (its password derives from it) and comment of a role: the comment marks the
# branch roles the console made.
BRANCH_ROLE_SQL = """
SELECT r.oid AS oid,
       pg_catalog.shobj_description(r.oid, 'pg_authid') AS comment
FROM pg_catalog.pg_roles AS r
WHERE r.rolname = %(role)s
"""

# The databases other than its own that a branch role may still connect to (through PUBLIC,
# which every database grants CONNECT by default: `postgres`, `template1`, other applications').
ROLE_OTHER_DATABASES_SQL = """
SELECT d.datname AS dbname
FROM pg_catalog.pg_database AS d
WHERE d.datname <> %(branch)s
  AND d.datallowconn
  AND pg_catalog.has_database_privilege(%(role)s, d.oid, 'CONNECT')
ORDER BY d.datname
"""

# The branch roles' functions (core/branch_roles.py): the maintenance role has no CREATEROLE.
CREATE_BRANCH_ROLE_SQL = f"""
SELECT {ROLE_SCHEMA}.create_branch_role(%(role)s) AS oid
"""

SET_BRANCH_ROLE_PASSWORD_SQL = f"""
SELECT {ROLE_SCHEMA}.set_branch_role_password(%(role)s, %(verifier)s)
"""

DROP_BRANCH_ROLE_SQL = f"""
SELECT {ROLE_SCHEMA}.drop_branch_role(%(role)s) AS dropped
"""
