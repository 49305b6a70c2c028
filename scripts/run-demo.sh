#!/usr/bin/env bash
# The embedded demo in the foreground: Celery worker with embedded beat in the background,
# Django's development server in front. Ctrl-C (or the end of either process) stops both.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN="${VENV:-.venv}/bin"
PORT="${PORT:-8000}"
mkdir -p var/celery/queue var/celery/control var/outbox var/media
# The demo shows what people get: DEBUG off, so static files come hashed and compressed from
# var/static (make collectstatic) through whitenoise, and errors show the product's pages.
export DEBUG="${DEBUG:-False}"
# No quiet hours in the demo (settings default: 22:00-07:00, Beijing time), so every mail is
# in the outbox at once; set NOTIFICATION_QUIET_HOURS to try them.
export NOTIFICATION_QUIET_HOURS="${NOTIFICATION_QUIET_HOURS-}"
# Links in the mails point at this server.
export SITE_URL="${SITE_URL:-http://127.0.0.1:$PORT}"
if [ -z "$NOTIFICATION_QUIET_HOURS" ]; then
    quiet="Quiet hours are off in the demo, so each mail is there within a minute."
else
    quiet="Mail waits out the quiet hours ($NOTIFICATION_QUIET_HOURS, Beijing time)."
fi

pids=()
# shellcheck disable=SC2317  # called from the EXIT trap
stop_all() {
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
trap stop_all EXIT
# Exiting from a signal trap runs the EXIT trap, which stops the children.
trap 'exit 130' INT
trap 'exit 143' TERM

# Without -Q the worker takes every queue (sweep, notify, reports, celery: project/celery.py),
# so one process does all the background work here. Its output also goes to
# var/celery-worker.log, so we can tell when it is ready.
: >var/celery-worker.log
"$BIN/celery" -A project worker --beat --concurrency 2 -l info \
    > >(tee -a var/celery-worker.log) 2>&1 &
pids+=("$!")

"$BIN/python" manage.py runserver "127.0.0.1:$PORT" --noreload --nostatic &
pids+=("$!")

# Print the guide once the server answers and the worker is ready (at most ~30 s), so it
# comes after their startup noise instead of being buried in it.
server_up() {
    "$BIN/python" -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()' "$PORT" 2>/dev/null
}
for _ in $(seq 1 60); do
    server_up && grep -q " ready\.$" var/celery-worker.log && break
    sleep 0.5
done

cat <<MSG

  Reformflow demo is running
  --------------------------
  Open        http://127.0.0.1:$PORT/   (admin: http://127.0.0.1:$PORT/admin/)
  Log in as any of these (each page then tells you what to do next):
MSG
"$BIN/python" manage.py seed_demo --summary ||
    echo "    (no demo accounts yet: run make seed)"
cat <<MSG
  Every other account (one staff and one head per department, one per leader role) was
  listed by seed_demo above.
  Mail is not sent: each message is written as a file to $(pwd)/var/outbox/
  $quiet
  Stop with Ctrl-C.

MSG

# Whichever process ends first ends the demo; its status becomes ours.
status=0
wait -n || status=$?
exit "$status"
