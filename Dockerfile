# syntax=docker/dockerfile:1
# Multi-stage: build wheels with a compiler, run on a slim image as a non-root user.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY core ./core
COPY dashboard ./dashboard
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --upgrade pip \
    && /opt/venv/bin/pip install .

FROM python:3.11-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=dashboard.settings \
    DOTENV_FILE="" \
    PORT=8000
# pg_dump/pg_restore for local branches and libpq tools; nothing else.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system app && useradd --system --gid app --home /app app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=app:app manage.py gunicorn.conf.py alembic.ini ./
COPY --chown=app:app core ./core
COPY --chown=app:app dashboard ./dashboard
COPY --chown=app:app migrations ./migrations
COPY --chown=app:app templates ./templates
COPY --chown=app:app static ./static
# collectstatic needs settings to load: give it throwaway values (nothing connects).
RUN SECRET_KEY=collectstatic-only DATABASE_URL=postgresql://x@localhost/x \
    python manage.py collectstatic --noinput --verbosity 0
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8000\")}/healthz', timeout=4)"
CMD ["gunicorn", "-c", "gunicorn.conf.py", "dashboard.wsgi"]
