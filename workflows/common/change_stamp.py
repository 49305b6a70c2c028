"""The change stamp: one value in the shared cache that every write which can change what a
cached page shows replaces with a new one, after its transaction commits.

A page cached under the stamp it read before reading its data is never served once a later
write has committed: that write's bump leaves the old stamp behind for good. Bumping only
after the commit (`bump_on_commit`) is what keeps a reader from caching the old data under
the new stamp. Every audited write bumps (`audit/trail.py`); so do the writes that change
what the dashboard shows without an audit event (docs/architecture.md lists them).

Each bump stores a fresh random token rather than incrementing a counter: the database cache
(used without Redis) increments by read-then-write, and two concurrent bumps could leave a
value a reader had already seen. A stamp lost from the cache is replaced by a fresh token too.
"""

import logging
import secrets

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, transaction

from workflows.common.db_router import REPLICA, ReplicaRouter

logger = logging.getLogger(__name__)

KEY = "reformflow:change_stamp"
# Audited events that change nothing a cached page shows: sign-ins and reads. Every other
# verb bumps; a new read-only verb only costs cache hits until it is listed here.
READ_ONLY_VERBS = frozenset(
    {
        "logged_in",
        "logged_out",
        "login_failed",
        "report_downloaded",
        "evidence_downloaded",
        "catalogue_exported",
        "audit_verified",
        "files_verified",
    }
)


def current() -> str:
    """The stamp now (one cache read); a stamp the cache lost starts again as a new token."""
    stamp = cache.get(KEY)
    if stamp is None:
        cache.add(KEY, secrets.token_hex(8), timeout=None)
        stamp = cache.get(KEY)
    return stamp


def keep_seconds(seconds: float) -> float:
    """How long what is read now may be cached: `seconds`, or while reads go to a replica,
    no longer than the replay lag it is allowed (the stamp moves with the primary's commits,
    so a lagging read may sit under a new stamp)."""
    if ReplicaRouter().db_for_read(None) == REPLICA:
        return min(seconds, settings.REPLICA_MAX_LAG_SECONDS)
    return seconds


def bump() -> None:
    """Leave the current stamp behind: every page cached under it is stale from now on."""
    cache.set(KEY, secrets.token_hex(8), timeout=None)


def _bump_logged() -> None:
    try:
        bump()
    except Exception:  # a cache outage must not undo a committed write
        logger.exception("change stamp: bump failed; cached pages expire by their timeout")


def bump_on_commit(*verbs: str, using: str = DEFAULT_DB_ALIAS) -> None:
    """Bump once the current transaction commits (at once outside one); one bump however
    many writes the transaction makes (a cascade appends thousands of events). `verbs`: the
    audited events written; none but READ_ONLY_VERBS, no bump."""
    if verbs and READ_ONLY_VERBS.issuperset(verbs):
        return
    _hook_once(using)


def _hook_once(using: str) -> None:
    conn = transaction.get_connection(using)
    if not conn.in_atomic_block:
        _bump_logged()
        return
    # The hook registered earlier in this transaction is still pending if it sits where it
    # was put in the same list: Django starts a new list on commit, rollback and on the
    # rollback of a savepoint that held hooks, so a rolled-back bump is registered again.
    hooks = conn.run_on_commit
    mark = getattr(conn, "_reformflow_stamp_hook", None)
    if mark is not None:
        marked, at, pending = mark
        if marked is hooks and at < len(hooks) and hooks[at][1] is pending:
            return

    def hook() -> None:  # a new function each time: its identity marks this registration
        _bump_logged()

    at = len(hooks)
    transaction.on_commit(hook, using=using)
    conn._reformflow_stamp_hook = (conn.run_on_commit, at, hook)
