# Two commands for a newcomer: `make demo` (console on demo data) and `make test` (the suite).
# The first interpreter that really runs and is 3.11+ (pyenv shims may exist but not run).
PYTHON ?= $(shell for p in python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo connect doctor test test-fresh-clone install lint format db-start db-stop db-status bench clean-demo

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or 3.12 is needed: install it (e.g. apt-get install python3)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Start the console on demo data at http://127.0.0.1:8000 (re-running keeps the data).
demo: install
	$(BIN)/python -m core.demo setup
	$(BIN)/python -m core.demo migrate
	$(BIN)/python manage.py createcachetable
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py operator_add "$${DEMO_USERNAME:-operator}" --role admin --password-env DEMO_PASSWORD --keep-existing
	$(BIN)/python manage.py serve_console

## Point the console at your own database and Alembic project (see README.md):
##   OWNER_DATABASE_URL=... [ADMIN_DATABASE_URL=...] make connect ALEMBIC=path/to/alembic.ini
connect: install
	@test -n "$(ALEMBIC)" || { echo "Say where the Alembic project is: make connect ALEMBIC=path/to/alembic.ini"; exit 2; }
	$(BIN)/python manage.py connect --alembic "$(ALEMBIC)" $(CONNECT_ARGS)

## Re-run the setup checks (pg_stat_statements, grants, branches, the Alembic project, cookies).
doctor: install
	$(BIN)/python manage.py doctor

## Run the whole suite against a throwaway cluster (browser tests included).
test: install
	$(BIN)/python -m pytest

## The suite from a fresh clone of the committed HEAD with nothing beside it (FRESH=/tmp/...).
FRESH ?= /tmp/schemadesk-fresh-clone
test-fresh-clone:
	rm -rf "$(FRESH)" && mkdir -p "$(FRESH)"
	git clone --quiet "$(CURDIR)" "$(FRESH)/schemadesk"
	$(MAKE) -C "$(FRESH)/schemadesk" test

# mypy loads Django's settings (django-stubs): placeholders, nothing is connected to.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	SECRET_KEY=typecheck DOTENV_FILE= DATABASE_URL=postgresql://typecheck@127.0.0.1:1/typecheck \
		$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Start the demo cluster; if the port .env names is busy, another is chosen and .env follows.
db-start: install
	$(BIN)/python -m core.demo start
db-stop: install
	$(BIN)/python -m core.pgcluster stop
db-status: install
	$(BIN)/python -m core.pgcluster status

## Benchmarks print tables; see README.md. Each runs alone too (README: one command each);
## here all run, and the target fails if any missed its goal. The first run builds the data
## sets (var/bench-pg: 10M rows, the 1,000-table schema; tens of minutes) and keeps them.
BENCHMARKS ?= data_pages user_page slow_queries_page schema_scale fuzz_requests
bench: install
	@failed=""; for name in $(BENCHMARKS); do \
		echo "== benchmarks.$$name"; \
		$(BIN)/python -m benchmarks.$$name || failed="$$failed $$name"; \
	done; \
	if [ -n "$$failed" ]; then echo "goals missed by:$$failed"; exit 1; fi

## Stop the demo cluster and delete its data and .env.
clean-demo:
	-$(BIN)/python -m core.pgcluster stop
	rm -rf var/pg .env
