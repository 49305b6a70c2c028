"""The notification log's rows: the one rule for turning "tell these people" into messages.

Reminders, escalation rungs, supervision notices and hand-offs all build their rows here, so
every notice has the same dedupe key shape, the same treatment of inactive users, the same
folding into the daily digest, and reaches the substitute of a person who is away (代理).
"""

from workflows.common import change_stamp, wording
from workflows.common.substitution import stand_ins_of
from workflows.models import Notification, NotificationStatus


def stand_ins_load(users) -> dict[int, list]:
    """The substitutes standing in today for any of `users` (one query), for a batch that
    builds many notices and passes them to `notification_rows(stand_ins=...)`."""
    return stand_ins_of(u.pk for u in users if u is not None)


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
    stand_ins: dict[int, list] | None = None,
) -> list[Notification]:
    """One unsaved row per active user, keyed `<key>:<user id>` (recorded once however many
    sweeps run); people who read the daily digest get theirs folded into it. `digest_only`:
    the ids a batch already knows read the digest; without it, each user's profile says.

    A person with an active substitute: the substitute gets a row of their own too, keyed by
    their id and saying on whose behalf (payload `on_behalf_of`, the person's name), unless
    they are told already. `stand_ins`: a batch's `stand_ins_load`; without it, one query."""
    if case is not None:
        # A message about a case opens it to its recipient (common/reach.py): cached pages
        # of that reach go stale once the rows are committed.
        change_stamp.bump_on_commit(cases=[case.pk])
    people = {u.pk: u for u in users if u is not None and u.is_active}
    if stand_ins is None:
        stand_ins = stand_ins_of(people) if people else {}

    def row(user, extra: dict | None = None) -> Notification:
        if digest_only is not None and user.pk in people:
            folded = user.pk in digest_only
        else:
            profile = getattr(user, "profile", None)
            folded = getattr(profile, "notification_mode", "") == "digest"
        return Notification(
            dedupe_key=f"{key}:{user.pk}",
            recipient=user,
            kind=kind,
            case=case,
            work_item=item,
            rung=rung,
            due_at=item.due_at if item is not None else None,
            status=NotificationStatus.FOLDED if folded else NotificationStatus.PENDING,
            payload={**(payload or {}), **(extra or {})},
            next_attempt_at=now,
        )

    rows = [row(user) for user in people.values()]
    told = set(people)
    for person_id in people:
        for substitution in stand_ins.get(person_id, ()):
            substitute = substitution.substitute
            if substitute.pk in told or not substitute.is_active:
                continue
            told.add(substitute.pk)
            rows.append(
                row(
                    substitute,
                    {
                        "on_behalf_of": wording.person(substitution.person),
                        "on_behalf_of_id": person_id,
                    },
                )
            )
    return rows
