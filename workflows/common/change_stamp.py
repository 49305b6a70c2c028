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

Per federation (issue 20): at national scale a write somewhere must not retire every
federation's cached pages. A write that names its cases (`bump_on_commit(cases=...)`) moves
only the stamps of their organisations: each one's own stamp and the subtree stamp of it and
of every organisation above it. A reader bounded by a federation (common/reach.py: it never
sees a case outside that subtree) caches under the global stamp, its federation's subtree
stamp and the own stamps of the organisations above it (a write on a case up there, a
cascade, may change what is below). A write that names no case moves the global stamp:
every cached page is stale, as before.
"""

import logging
import secrets
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, transaction

from workflows.common.db_router import REPLICA, ReplicaRouter

logger = logging.getLogger(__name__)

KEY = "reformflow:change_stamp"
# + an organisation path: every case at or below it; "" is the whole tree.
SUBTREE = "reformflow:change_stamp:tree:"
# + an organisation path: the cases of that organisation alone.
OWN = "reformflow:change_stamp:own:"
# The audit trail's own: replaced after every commit that appended an event, whatever its
# verb (a sign-in changes no page but the audit desk, which shows it).
TRAIL = "reformflow:change_stamp:trail"
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


def _ancestors(path: str) -> list[str]:
    """The paths above an organisation's ("/1/7/42/": "/1/", "/1/7/"), nearest last."""
    parts = [part for part in path.split("/") if part]
    return ["/" + "/".join(parts[:depth]) + "/" for depth in range(1, len(parts))]


def current(bound: str | None = None) -> str:
    """The stamp now for a reader bounded by the organisation path `bound` (None: the whole
    tree), one cache read; a stamp the cache lost starts again as a new token."""
    keys = [KEY, SUBTREE + (bound or "")]
    if bound:
        keys += [OWN + path for path in _ancestors(bound)]
    found = cache.get_many(keys)
    missing = [key for key in keys if found.get(key) is None]
    if missing:
        for key in missing:
            cache.add(key, secrets.token_hex(8), timeout=None)
        found = cache.get_many(keys)
    return ".".join(str(found.get(key)) for key in keys)


def keep_seconds(seconds: float) -> float:
    """How long what is read now may be cached: `seconds`, or while reads go to a replica,
    no longer than the replay lag it is allowed (the stamp moves with the primary's commits,
    so a lagging read may sit under a new stamp)."""
    if ReplicaRouter().db_for_read(None) == REPLICA:
        return min(seconds, settings.REPLICA_MAX_LAG_SECONDS)
    return seconds


def bump(paths: Iterable[str] | None = None) -> None:
    """Leave the current stamps behind: of the organisations at `paths` (and their subtree
    stamps up to the whole tree's), or of every page when no path is given."""
    if paths is None:
        cache.set(KEY, secrets.token_hex(8), timeout=None)
        return
    token = secrets.token_hex(8)
    keys = {SUBTREE: token}
    for path in set(paths):
        keys[OWN + path] = token
        keys.update((SUBTREE + above, token) for above in (*_ancestors(path), path))
    cache.set_many(keys, timeout=None)


def bump_cases(cases: frozenset[int] | None, using: str = DEFAULT_DB_ALIAS) -> None:
    """Bump for a write on these cases (their organisations' stamps), or for every page when
    `cases` is None."""
    if cases is None:
        bump()
        return
    from workflows.models import Case  # here: models import this module's callers

    paths = (
        Case.objects.using(using)
        .filter(pk__in=cases)
        .order_by()
        .values_list("organisation__path", flat=True)
        .distinct()
    )
    bump(list(paths))


def bump_paths_on_commit(paths: Iterable[str] | None, using: str = DEFAULT_DB_ALIAS) -> None:
    """Bump the stamps of the organisations at `paths` (None: every page) once the current
    transaction commits (at once outside one): for writes that name federations rather than
    cases (the appraisal's scores of a federation's departments)."""
    chosen = None if paths is None else list(paths)
    _after_commit(lambda: _logged(bump, chosen), using)


def _after_commit(hook, using: str) -> None:
    transaction.on_commit(hook, using=using)


def _logged(move, *args) -> None:
    """`move(*args)`, a stamp's move after a commit: a cache outage is logged, never raised
    (it must not undo a committed write; cached pages then expire by their timeout)."""
    try:
        move(*args)
    except Exception:
        logger.exception("change stamp: %s failed; cached pages expire by their timeout", move)


def _bump_logged(cases: frozenset[int] | None, using: str) -> None:
    _logged(bump_cases, cases, using)


def bump_on_commit(
    *verbs: str, cases: Iterable[int | None] | None = None, using: str = DEFAULT_DB_ALIAS
) -> None:
    """Bump once the current transaction commits (at once outside one); one bump however
    many writes the transaction makes (a cascade appends thousands of events). `verbs`: the
    audited events written; none but READ_ONLY_VERBS, no bump. `cases`: the ids of the cases
    written, when every change is on those cases (a None among them, or no `cases`: every
    page is stale)."""
    if verbs and READ_ONLY_VERBS.issuperset(verbs):
        return
    scope: frozenset[int] | None = None
    if cases is not None:
        ids = set(cases)
        scope = None if None in ids else frozenset(i for i in ids if i is not None)
    _hook_once(using, scope)


def _hook_once(using: str, cases: frozenset[int] | None = None) -> None:
    conn = transaction.get_connection(using)
    if not conn.in_atomic_block:
        _bump_logged(cases, using)
        return
    # The hook registered earlier in this transaction is still pending if it sits where it
    # was put in the same list: Django starts a new list on commit, rollback and on the
    # rollback of a savepoint that held hooks, so a rolled-back bump is registered again.
    # A pending hook takes this write's cases into its own (None: every page).
    hooks = conn.run_on_commit
    mark = getattr(conn, "_reformflow_stamp_hook", None)
    if mark is not None:
        marked, at, pending, scope = mark
        if marked is hooks and at < len(hooks) and hooks[at][1] is pending:
            if cases is None:
                scope["cases"] = None
            elif scope["cases"] is not None:
                scope["cases"] = scope["cases"] | cases
            return
    scope = {"cases": cases}

    def hook() -> None:  # a new function each time: its identity marks this registration
        _bump_logged(scope["cases"], using)

    at = len(hooks)
    transaction.on_commit(hook, using=using)
    conn._reformflow_stamp_hook = (conn.run_on_commit, at, hook, scope)


def trail_current() -> str:
    """The audit trail's stamp now (one cache read): it moves when any event is appended."""
    token = cache.get(TRAIL)
    if token is None:
        cache.add(TRAIL, secrets.token_hex(8), timeout=None)
        token = cache.get(TRAIL)
    return str(token)


def _trail_bump() -> None:
    _logged(cache.set, TRAIL, secrets.token_hex(8), None)


def trail_bump_on_commit(using: str = DEFAULT_DB_ALIAS) -> None:
    """Move the trail's stamp once the current transaction commits (at once outside one), once
    per transaction however many events it appends."""
    conn = transaction.get_connection(using)
    if not conn.in_atomic_block:
        _trail_bump()
        return
    if any(entry[1] is _trail_bump for entry in conn.run_on_commit):
        return
    transaction.on_commit(_trail_bump, using=using)
