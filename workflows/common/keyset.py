"""Keyset paging for long, append-only lists (the audit trail): newest first by id, pages
reached with `?before=<id>` (older) and `?after=<id>` (newer). No COUNT(*) and no OFFSET,
so a page costs the same at the head of a million rows as of a hundred."""

from dataclasses import dataclass

from django.db.models import QuerySet

from workflows.common.bounds import InputRejected


@dataclass(frozen=True)
class KeysetPage:
    rows: list
    # The `before` of the next, older page and the `after` of the previous, newer one; None
    # when there is no such page.
    older: int | None
    newer: int | None


def keyset_bound(value: str | None, *, field: str) -> int | None:
    """A `before`/`after` query value as an id; InputRejected (400) unless a whole number."""
    if value is None or value == "":
        return None
    if not value.isdigit() or int(value) >= 2**63:
        raise InputRejected(field, f"expected an event id, got {value!r}.")
    return int(value)


def keyset_page(
    rows: QuerySet, *, size: int, before: int | None = None, after: int | None = None
) -> KeysetPage:
    """One page of `rows`, newest (highest id) first: the `size` rows below `before`, or the
    `size` rows just above `after`, or the newest; two queries at most, whatever the total."""
    if after is not None:
        chunk = list(rows.filter(pk__gt=after).order_by("pk")[: size + 1])
        more_newer = len(chunk) > size
        page = chunk[:size][::-1]
        more_older = bool(page) and rows.filter(pk__lt=page[-1].pk).exists()
    else:
        if before is not None:
            rows_below = rows.filter(pk__lt=before)
        else:
            rows_below = rows
        chunk = list(rows_below.order_by("-pk")[: size + 1])
        more_older = len(chunk) > size
        page = chunk[:size]
        more_newer = before is not None and bool(page) and rows.filter(pk__gt=page[0].pk).exists()
    return KeysetPage(
        page,
        older=page[-1].pk if more_older else None,
        newer=page[0].pk if more_newer else None,
    )
