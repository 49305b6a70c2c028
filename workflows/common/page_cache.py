"""One definition of a cached page's key (issue 20): the dashboard's programme, wall and case
list, the API's lists, My work, the search's results and the case pages' main part are each
kept in the shared cache under it."""

import hashlib
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.utils import timezone, translation

from workflows.common import change_stamp
from workflows.common import reach as access

T = TypeVar("T")


def cache_key(name: str, user, *parts, personal: bool = False, localised: bool = True) -> str:
    """The key of `name` as `user` sees it now: the change stamps of their federation
    (common/change_stamp: a write elsewhere keeps it), their reach (common/reach.reach_key,
    their own with `personal`: never one reach's entry for another), the language and time
    zone when `localised`, and the page's own `parts` (filters, page window)."""
    key = (
        name,
        change_stamp.current(access.user_scope_path(user)),
        access.reach_key(user, personal=personal),
        *((translation.get_language(), timezone.get_current_timezone_name()) if localised else ()),
        *parts,
    )
    return f"reformflow:{name}:" + hashlib.sha256(repr(key).encode()).hexdigest()


def kept(key: str, build: Callable[[], T], seconds: int) -> T:
    """What `build()` returns, from the shared cache under `key` (a `cache_key`) while the
    change stamp holds, at most `seconds` (`change_stamp.keep_seconds`); built and kept when
    missing. `build()` must not return None (None is a miss)."""
    value = cache.get(key)
    if value is None:
        value = build()
        cache.set(key, value, change_stamp.keep_seconds(seconds))
    return value
