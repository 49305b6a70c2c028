# Reformflow image: one image for web (gunicorn), Celery worker and Celery beat.

# Front-end libraries (ECharts, axe-core) from the npm registry, by `make assets`; only their
# dist files reach the image, in static/vendor/. Node.js stays in this stage.
FROM node:20-bookworm-slim AS assets
RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY Makefile package.json package-lock.json ./
RUN make assets

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VENV=/opt/venv \
    VENV_STAMP= \
    ASSETS_STAMP= \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=project.settings.production

# CJK font and Pango for WeasyPrint PDFs, gettext for translations, make for the targets.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        fonts-wqy-microhei libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 gettext make \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
RUN python -m venv /opt/venv

# Dependencies first, the locked runtime set (`make lock` writes it beside requirements/lock.txt),
# so code changes reuse this layer.
COPY requirements/runtime.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt

COPY . .
COPY --from=assets /app/static/vendor static/vendor
# The code runs from /app (PYTHONPATH): templates/ and the catalogue sit beside it.
# Production settings refuse to load without these; the build never touches a database.
RUN pip install --no-deps . \
    && SECRET_KEY=build-only-dummy-key-never-used-at-runtime-0123456789 ALLOWED_HOSTS=localhost DATABASE_URL=sqlite:////tmp/build.sqlite3 \
        make collectstatic messages \
    && useradd --system --uid 1000 --home-dir /app --shell /usr/sbin/nologin reformflow \
    && mkdir -p var/media var/celery/queue var/celery/control var/outbox \
    && chown -R reformflow:reformflow var

USER reformflow
EXPOSE 8000
CMD ["make", "web"]
