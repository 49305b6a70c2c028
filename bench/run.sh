#!/usr/bin/env bash
# `make bench`: build the national-scale data set on PostgreSQL (unless BENCH_REUSE=1) and
# print the figures. Needs PostgreSQL on 127.0.0.1:5432 (trust auth) and wrk.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DB=${BENCH_DB:-reformflow_bench}
ORGS=${BENCH_ORGS:-3000}
PY=${PY:-.venv/bin/python}
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB"
export DJANGO_SETTINGS_MODULE=project.settings.local DEBUG=false
# As in production (project/settings/production.py, compose.yaml): persistent database
# connections, and Redis for the cache and sessions when it is running.
export CONN_MAX_AGE=${CONN_MAX_AGE:-60}
if [ -z "${REDIS_URL:-}" ] && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
    export REDIS_URL=redis://127.0.0.1:6379/0
fi

command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install wrk)" >&2; exit 1; }
if [ "${BENCH_REUSE:-0}" != 1 ]; then
    echo "==> fresh database $DB with $ORGS organisations and a year of history"
    echo "    (about 20 s per 100 organisations, plus the history: see bench/RESULTS.md)"
    started=$(date +%s)
    psql -h 127.0.0.1 -U postgres -qc "drop database if exists $DB" -c "create database $DB"
    $PY manage.py migrate --noinput -v0
    $PY manage.py load_catalogue >/dev/null
    DEMO_PASSWORD=bench-password $PY manage.py seed_demo >/dev/null
    $PY manage.py launch_measures --all >/dev/null
    # BENCH_HISTORY=0 leaves out the year of history (audit trail, cycles, notifications, scores).
    history=$([ "${BENCH_HISTORY:-1}" = 1 ] && echo --history || true)
    $PY manage.py generate_scale --organisations "$ORGS" $history \
        --history-events "${BENCH_HISTORY_EVENTS:-1100000}" | grep -v -e '^  [0-9]' -e '^  history: [0-9]'
    psql -h 127.0.0.1 -U postgres -d "$DB" -qc "vacuum analyze"
    echo "==> data set built in $(( $(date +%s) - started )) s"
fi
[ "${BENCH_BUILD_ONLY:-0}" = 1 ] && exit 0
# A reused data set may predate the newest migrations.
$PY manage.py migrate --noinput -v0
$PY manage.py createcachetable
# Pages name hashed static files, as in production.
$PY manage.py collectstatic --noinput -v0
exec $PY bench/bench.py "$@"
