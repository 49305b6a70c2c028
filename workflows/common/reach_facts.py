"""What reach (common/reach.py) is worked out from: the user's groups, home federation, whom
they stand in for today, and the departments and leader posts of them all, read in one query.
Only reach.py uses it; the rule itself stays there."""

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.db import connections, router
from django.db.models import CharField, F, IntegerField, QuerySet, Value

from workflows.common import substitution
from workflows.models import Department, LeaderRole, Profile


@dataclass(frozen=True)
class Facts:
    """What reach is worked out from, as one query reads it (`facts_read`)."""

    groups: frozenset[str] = frozenset()
    home_id: int | None = None
    home_path: str = ""
    home_is_root: bool = False
    represented: frozenset[int] = frozenset()
    # (pk, key, organisation path, organisation id) of each department headed / staffed and
    # leader post held, by the user and those they stand in for today.
    headed: frozenset[tuple[int, str, str, int]] = frozenset()
    staffed: frozenset[tuple[int, str, str, int]] = frozenset()
    held: frozenset[tuple[int, str, str, int]] = frozenset()


# The statement is the same for every user but for the user's id and today's date: it is built
# and compiled once per database with these stand-ins, then run with the real values. Building
# the nine-part UNION through the ORM on every request was a third of a bare page's CPU (issue 20).
_USER_STAND_IN = -918_273_645
_DAY_STAND_IN = dt.date(1901, 2, 3)
_compiled: dict[str, tuple[str, tuple]] = {}


def facts_query(user, today: dt.date | None = None) -> QuerySet:
    """The one query of what reach is worked out from: one UNION ALL of index lookups (a page
    used to ask them in six to eight queries before doing anything else, issue 20). `user` is a
    user or their id."""
    text, number = CharField(), IntegerField()
    stand_in = substitution.represented_query(user, today).values("person_id")

    def part(rows: QuerySet, kind: str, pk, key, path, organisation) -> QuerySet:
        rows = rows.order_by().annotate(
            rf_kind=Value(kind, output_field=text),
            rf_pk=pk,
            rf_key=key,
            rf_path=path,
            rf_organisation=organisation,
        )
        return rows.values_list("rf_kind", "rf_pk", "rf_key", "rf_path", "rf_organisation")

    def posts(model, kind: str, holder: str) -> list[QuerySet]:
        # The user's own and the stood-in-for people's as two parts: an OR of the two would
        # keep PostgreSQL from reading either through its index.
        columns = (F("pk"), F("key"), F("organisation__path"), F("organisation_id"))
        return [
            part(model.objects.filter(**{holder: user}), kind, *columns),
            part(model.objects.filter(**{f"{holder}__in": stand_in}), kind, *columns),
        ]

    none_text, none_number = Value("", output_field=text), Value(None, output_field=number)
    parts = [
        part(Group.objects.filter(user=user), "group", F("pk"), F("name"), none_text, none_number),
        part(
            Profile.objects.filter(user=user, organisation__isnull=False),
            "home",
            F("organisation_id"),
            none_text,
            F("organisation__path"),
            F("organisation__parent_id"),
        ),
        part(
            substitution.represented_query(user, today),
            "person",
            F("person_id"),
            none_text,
            none_text,
            none_number,
        ),
        *posts(Department, "head", "head"),
        *posts(Department, "staff", "staff"),
        *posts(LeaderRole, "leader", "holder"),
    ]
    return parts[0].union(*parts[1:], all=True)


def _rows(user) -> list[tuple]:
    """`facts_query(user)`'s rows, through the statement compiled once for this database."""
    alias = router.db_for_read(Profile)
    compiled = _compiled.get(alias)
    if compiled is None:
        query = facts_query(_USER_STAND_IN, _DAY_STAND_IN).query
        compiled = _compiled[alias] = query.get_compiler(using=alias).as_sql()
    sql, params = compiled
    today = substitution.local_today()
    values = {
        _USER_STAND_IN: user.pk,
        _DAY_STAND_IN: today,
        _DAY_STAND_IN.isoformat(): today.isoformat(),  # SQLite's adapted form of a date
    }
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, [values.get(param, param) for param in params])
        return cursor.fetchall()


def facts_read(user) -> Facts:
    """The user's groups, home federation, whom they stand in for today, and the departments
    and leader posts of them all, in one query (`facts_query`)."""
    found: dict[str, set] = {"group": set(), "person": set(), "head": set()}
    found.update(staff=set(), leader=set())
    home: tuple | None = None
    for kind, pk, key, path, organisation in _rows(user):
        if kind == "group":
            found[kind].add(key)
        elif kind == "home":
            home = (pk, path, organisation is None)
        elif kind == "person":
            found[kind].add(pk)
        else:
            found[kind].add((pk, key, path, organisation))
    represented = frozenset(found["person"])
    substitution.represented_known(user, represented)
    return Facts(
        groups=frozenset(found["group"]),
        home_id=home[0] if home else None,
        home_path=home[1] if home else "",
        home_is_root=home[2] if home else False,
        represented=represented,
        headed=frozenset(found["head"]),
        staffed=frozenset(found["staff"]),
        held=frozenset(found["leader"]),
    )
