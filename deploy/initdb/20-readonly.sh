#!/bin/sh
# First start of the compose Postgres: the read-only role EXPLAIN ANALYZE runs statements as
# (the same as `_prepare_readonly_role` in core/embedded.py). It may SELECT the application's
# tables, those the owner creates later included, and nothing else.
set -eu
psql -v ON_ERROR_STOP=1 --username postgres --dbname schemadesk \
  -v readonly_pw="$SCHEMADESK_READONLY_PASSWORD" <<'SQL'
CREATE ROLE schemadesk_readonly LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS
  PASSWORD :'readonly_pw';
ALTER ROLE schemadesk_readonly SET default_transaction_read_only = on;
GRANT CONNECT ON DATABASE schemadesk TO schemadesk_readonly;
GRANT USAGE ON SCHEMA public TO schemadesk_readonly;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO schemadesk_readonly;
ALTER DEFAULT PRIVILEGES FOR ROLE todo_owner IN SCHEMA public
  GRANT SELECT ON TABLES TO schemadesk_readonly;
GRANT schemadesk_readonly TO todo_owner;
-- Every role may create large objects and write WAL messages: keep that for the application.
DO $$
DECLARE f regprocedure;
BEGIN
  FOR f IN SELECT p.oid FROM pg_proc AS p
           WHERE p.pronamespace = 'pg_catalog'::regnamespace
             AND p.proname IN ('lo_creat', 'lo_create', 'lo_from_bytea', 'pg_logical_emit_message')
  LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO todo_owner, todo_app', f);
  END LOOP;
END $$;
SQL
