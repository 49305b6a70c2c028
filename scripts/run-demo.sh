#!/usr/bin/env bash
# The embedded demo in the foreground: Celery worker with embedded beat in the background,
# Django's development server in front. Ctrl-C (or the end of either process) stops both.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN="${VENV:-.venv}/bin"
mkdir -p var/celery/queue var/celery/control var/outbox var/media

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

"$BIN/celery" -A project worker --beat --concurrency 2 -l info &
pids+=("$!")

cat <<MSG

  Reformflow demo
  ---------------
  Log in at   http://127.0.0.1:8000/   (Django admin at http://127.0.0.1:8000/admin/)
  Logins and the shared password were printed by seed_demo above
  (set DEMO_PASSWORD to choose the password).
  Mail is not sent: each message is written to var/outbox/
  Stop with Ctrl-C.

MSG

"$BIN/python" manage.py runserver 127.0.0.1:8000 --noreload &
pids+=("$!")

# Whichever process ends first ends the demo; its status becomes ours.
status=0
wait -n || status=$?
exit "$status"
