"""Which channels each message goes out on, and where: one log row per message and channel.

A person's own choice wins; without one, their department's (the task's department first, then
the others they belong to); then the default row; then NOTIFICATION_CHANNELS. A chosen channel
needs an address: for WeCom the person's user ID (with the WeCom app set up) or robot, else
their department's or the default robot; for DingTalk the person's robot, else their
department's or the default one. A message that no chosen channel can carry goes by e-mail, so
nothing is dropped for want of an address.

A department's (or the default) robot posts into a group chat: the message's rows for everyone
it reaches there become one row, keyed by the message and the robot instead of the person, so
a queue of five people gets one post, and the next sweep's copy of it is a duplicate key. The
post goes out even if the person it is filed under reads only the digest. Digests are personal
and never go to a group.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q

from workflows.models import (
    Channel,
    ChannelSettings,
    Department,
    Notification,
    NotificationKind,
    NotificationStatus,
)
from workflows.notifications.channels.wecom import app_configured

_COPIED = None  # the Notification fields a channel's copy of a row takes over (set lazily)


def _copy(row: Notification, **changes) -> Notification:
    global _COPIED
    if _COPIED is None:
        _COPIED = [f.attname for f in Notification._meta.concrete_fields if not f.primary_key]
    copy = Notification(**{name: getattr(row, name) for name in _COPIED})
    for name, value in changes.items():
        setattr(copy, name, value)
    return copy


@dataclass
class ChannelBook:
    """The channel settings of one set of recipients, read in a fixed number of queries."""

    people: dict[int, ChannelSettings] = field(default_factory=dict)
    departments: dict[int, ChannelSettings] = field(default_factory=dict)
    memberships: dict[int, list[int]] = field(default_factory=dict)  # user -> department ids
    default: ChannelSettings | None = None

    @classmethod
    def load(cls, user_ids: set[int]) -> ChannelBook | None:
        """None when everyone gets e-mail only (no settings rows, the setting says e-mail)."""
        if list(settings.NOTIFICATION_CHANNELS) == [Channel.EMAIL] and (
            not ChannelSettings.objects.exists()
        ):
            return None
        book = cls()
        for row in ChannelSettings.objects.filter(Q(user__in=user_ids) | Q(is_default=True)):
            if row.user_id is not None:
                book.people[row.user_id] = row
            else:
                book.default = row
        memberships = defaultdict(set)
        through = Department.staff.through.objects.filter(user_id__in=user_ids)
        for user_id, department_id in through.values_list("user_id", "department_id"):
            memberships[user_id].add(department_id)
        headed = Department.objects.filter(head__in=user_ids).values_list("head_id", "pk")
        for user_id, department_id in headed:
            memberships[user_id].add(department_id)
        book.memberships = {user: sorted(ids) for user, ids in memberships.items()}
        all_departments = {d for ids in book.memberships.values() for d in ids}
        for row in ChannelSettings.objects.filter(department__in=all_departments).select_related(
            "department"
        ):
            book.departments[row.department_id] = row
        return book

    def _departments_of(self, user_id: int, hint: int | None) -> list[ChannelSettings]:
        ids = self.memberships.get(user_id, [])
        ordered = ([hint] if hint in ids else []) + [d for d in ids if d != hint]
        return [self.departments[d] for d in ordered if d in self.departments]

    def channels_for(self, user_id: int, hint: int | None) -> list[str]:
        """The channels the person reads: their own choice, their department's, the default."""
        person = self.people.get(user_id)
        if person is not None and person.channels:
            return list(person.channels)
        for department in self._departments_of(user_id, hint):
            if department.channels:
                return list(department.channels)
        if self.default is not None and self.default.channels:
            return list(self.default.channels)
        return list(settings.NOTIFICATION_CHANNELS)

    def address_for(
        self, channel: str, user_id: int, hint: int | None, *, personal_only: bool
    ) -> ChannelSettings | None:
        """The settings row whose address carries `channel` to this person, or None."""
        person = self.people.get(user_id)
        if channel == Channel.WECOM:
            if person is not None and (
                (person.wecom_user_id and app_configured()) or person.wecom_robot_key
            ):
                return person
            has_address = lambda row: bool(row.wecom_robot_key)  # noqa: E731
        elif channel == Channel.DINGTALK:
            if person is not None and person.dingtalk_robot_token:
                return person
            has_address = lambda row: bool(row.dingtalk_robot_token)  # noqa: E731
        else:
            return None
        if personal_only:
            return None
        for row in [*self._departments_of(user_id, hint), self.default]:
            if row is not None and has_address(row):
                return row
        return None


def _group_key(row: Notification, address: ChannelSettings) -> str:
    """The message's key with the person replaced by the robot (keys end in the user's id)."""
    suffix = f":{row.recipient_id}"
    base = row.dedupe_key.removesuffix(suffix) if row.dedupe_key.endswith(suffix) else None
    if base is None:  # a key that does not name its person: one post per person, still once
        return f"{row.dedupe_key}:g{address.pk}"
    return f"{base}:g{address.pk}"


def rows_for_channels(rows: list[Notification]) -> list[Notification]:
    """Each message row (as built for e-mail) once per channel its recipient reads, with the
    address it goes to; group posts of one message merged into one row."""
    if not rows:
        return rows
    book = ChannelBook.load({row.recipient_id for row in rows})
    if book is None:
        return rows
    out: list[Notification] = []
    groups: dict[tuple[str, str], Notification] = {}
    for row in rows:
        hint = row.work_item.department_id if row.work_item_id else None
        personal_only = row.kind == NotificationKind.DIGEST
        carried = False
        for channel in dict.fromkeys(book.channels_for(row.recipient_id, hint)):
            if channel == Channel.EMAIL:
                row.channel = Channel.EMAIL
                out.append(row)
                carried = True
                continue
            address = book.address_for(channel, row.recipient_id, hint, personal_only=personal_only)
            if address is None:
                continue
            carried = True
            if address.user_id is not None:
                out.append(_copy(row, channel=channel, address_id=address.pk))
                continue
            key = _group_key(row, address)
            post = groups.get((key, channel))
            if post is None:
                # A group chat is not one person's inbox: the post goes out whatever the
                # digest choice of the person it is filed under.
                groups[(key, channel)] = post = _copy(
                    row,
                    channel=channel,
                    address_id=address.pk,
                    dedupe_key=key,
                    status=NotificationStatus.PENDING,
                )
                out.append(post)
        if not carried:
            row.channel = Channel.EMAIL
            out.append(row)
    return out
