#!/usr/bin/env bash
# CPU per request of one page under load, split between the gunicorn workers, PostgreSQL and
# Redis: bench/cpu_split.sh USERNAME PATH (on the data set make bench built; C=connections).
# With 8 connections on 2 cores, p95 follows this CPU almost linearly: it is what to cut.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DB=${BENCH_DB:-reformflow_bench}
PY=${PY:-.venv/bin/python}
PORT=${BENCH_PORT:-8799}
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB" DJANGO_SETTINGS_MODULE=project.settings.local
export DEBUG=false CONN_MAX_AGE=${CONN_MAX_AGE:-60} REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
USERNAME=$1 URL_PATH=$2 CONNECTIONS=${C:-8}
COOKIE=$($PY -c "
import sys; sys.path.insert(0, '.'); import django; django.setup()
from django.contrib.auth import get_user_model; from django.test import Client
c = Client(); c.force_login(get_user_model().objects.get(username=sys.argv[1]))
print(c.cookies['sessionid'].value)" "$USERNAME" 2>/dev/null)
$PY -m gunicorn project.wsgi -w 4 -b "127.0.0.1:$PORT" --log-level warning &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
sleep 3
# utime + stime (clock ticks, 100 per second) of every process whose command line matches.
ticks() { for p in $(pgrep -f "$1"); do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null; done | awk '{s += $1} END {print s + 0}'; }
wrk -t1 -c"$CONNECTIONS" -d3s -H "Cookie: sessionid=$COOKIE" "http://127.0.0.1:$PORT$URL_PATH" >/dev/null
g0=$(ticks "gunicorn project.wsgi"); p0=$(ticks "postgres: .* $DB "); r0=$(ticks redis-server)
RESULT=$(wrk -t1 -c"$CONNECTIONS" -d10s -H "Cookie: sessionid=$COOKIE" -s bench/wrk_report.lua \
    "http://127.0.0.1:$PORT$URL_PATH" | grep RESULT)
g1=$(ticks "gunicorn project.wsgi"); p1=$(ticks "postgres: .* $DB "); r1=$(ticks redis-server)
N=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$RESULT")
echo "$RESULT"
awk -v g=$((g1 - g0)) -v p=$((p1 - p0)) -v r=$((r1 - r0)) -v n="$N" 'BEGIN {
    printf "CPU per request: gunicorn %.1f ms, PostgreSQL %.1f ms, Redis %.1f ms\n", g*10/n, p*10/n, r*10/n }'
