"""The notification log's rows: the one rule for turning "tell these people" into messages.

Reminders, escalation rungs and supervision notices all build their rows here, so every
notice has the same dedupe key shape, the same treatment of inactive users and the same
folding into the daily digest.
"""

from workflows.common import change_stamp
from workflows.models import Notification, NotificationStatus


def notification_rows(
    users,
    *,
    kind: str,
    key: str,
    case,
    now,
    item=None,
    rung: int | None = None,
    payload: dict | None = None,
    digest_only: set[int] | None = None,
) -> list[Notification]:
    """One unsaved row per active user, keyed `<key>:<user id>` (recorded once however many
    sweeps run); people who read the daily digest get theirs folded into it. `digest_only`:
    the ids a batch already knows read the digest; without it, each user's profile says."""
    if case is not None:
        # A message about a case opens it to its recipient (common/reach.py): cached pages
        # of that reach go stale once the rows are committed.
        change_stamp.bump_on_commit()
    rows = []
    for user in {u.pk: u for u in users if u is not None and u.is_active}.values():
        if digest_only is not None:
            folded = user.pk in digest_only
        else:
            profile = getattr(user, "profile", None)
            folded = getattr(profile, "notification_mode", "") == "digest"
        rows.append(
            Notification(
                dedupe_key=f"{key}:{user.pk}",
                recipient=user,
                kind=kind,
                case=case,
                work_item=item,
                rung=rung,
                due_at=item.due_at if item is not None else None,
                status=NotificationStatus.FOLDED if folded else NotificationStatus.PENDING,
                payload=payload or {},
                next_attempt_at=now,
            )
        )
    return rows
