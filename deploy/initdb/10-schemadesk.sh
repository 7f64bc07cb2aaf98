#!/bin/sh
# First start of the compose Postgres: the same layout `make demo` builds (see core/embedded.py).
set -eu
psql -v ON_ERROR_STOP=1 --username postgres --dbname schemadesk \
  -v schemadesk_pw="$SCHEMADESK_PASSWORD" -v owner_pw="$TODO_OWNER_PASSWORD" <<'SQL'
CREATE ROLE todo_owner LOGIN CREATEDB CREATEROLE PASSWORD :'owner_pw';
CREATE ROLE todo_app LOGIN NOBYPASSRLS;
CREATE ROLE schemadesk LOGIN CREATEDB PASSWORD :'schemadesk_pw';
-- Owns schema django and the audit trail; nobody logs in as it. The console's role gets the
-- membership only while `migrate` runs (python -m core.audit_owner, see compose.yaml).
CREATE ROLE schemadesk_audit NOLOGIN;
GRANT pg_read_all_stats, pg_signal_backend TO todo_owner;
ALTER ROLE schemadesk SET search_path = django;
ALTER DATABASE schemadesk OWNER TO todo_owner;
-- Only these roles connect: a local branch's own role must not open the application's database.
REVOKE CONNECT, TEMPORARY ON DATABASE schemadesk FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE schemadesk TO todo_owner, todo_app, schemadesk;
ALTER SCHEMA public OWNER TO todo_owner;
CREATE SCHEMA django AUTHORIZATION schemadesk_audit;
REVOKE ALL ON SCHEMA django FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA django TO schemadesk;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO todo_app;
ALTER DEFAULT PRIVILEGES FOR ROLE todo_owner IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO todo_app;
ALTER DEFAULT PRIVILEGES FOR ROLE todo_owner IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO todo_app;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SQL
