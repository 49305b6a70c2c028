"""Demo accounts for every role, for trying the product locally (never in production)."""

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from workflows.common import roles
from workflows.models import (
    Case,
    Department,
    LeaderRole,
    Measure,
    Organisation,
    OrganisationLevel,
    Profile,
)
from workflows.organisations.services import organisation_create, organisation_roles_copy

# Demo provincial federations, in this order: (code, English name, Chinese name).
DEMO_PROVINCES = (
    ("beijing", "Beijing Federation of Trade Unions", "北京市总工会"),
    ("shanghai", "Shanghai Federation of Trade Unions", "上海市总工会"),
    ("guangdong", "Guangdong Federation of Trade Unions", "广东省总工会"),
    ("zhejiang", "Zhejiang Federation of Trade Unions", "浙江省总工会"),
    ("sichuan", "Sichuan Federation of Trade Unions", "四川省总工会"),
    ("hubei", "Hubei Federation of Trade Unions", "湖北省总工会"),
)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str


class DemoSeedRefused(ImproperlyConfigured):
    """Raised when settings forbid demo accounts (production)."""


def _user(username: str, *, first: str, last: str = "", organisation, group: str):
    user, _created = get_user_model().objects.get_or_create(
        username=username,
        defaults={"first_name": first, "last_name": last, "email": f"{username}@example.org"},
    )
    user.groups.add(Group.objects.get(name=group))
    Profile.objects.update_or_create(user=user, defaults={"organisation": organisation})
    return user


def _staff_federation(organisation: Organisation, prefix: str, add) -> None:
    """Accounts for a subordinate federation: a coordinator, each department's head and
    staff, each leader role's holder, all named `<prefix>.<...>`."""
    organisation_roles_copy(organisation=organisation)
    add(
        _user(
            f"{prefix}.coordinator",
            first="Coordinator",
            last=organisation.title_en,
            organisation=organisation,
            group=roles.COORDINATORS,
        ),
        f"coordinator of {organisation.title_en}",
    )
    for dept in organisation.departments.order_by("key"):
        head = _user(
            f"{prefix}.{dept.key}.head",
            first="Head",
            last=f"{dept.title_en} ({organisation.code})",
            organisation=organisation,
            group=roles.DEPARTMENT_HEADS,
        )
        staff = _user(
            f"{prefix}.{dept.key}.staff",
            first="Staff",
            last=f"{dept.title_en} ({organisation.code})",
            organisation=organisation,
            group=roles.DEPARTMENT_STAFF,
        )
        if dept.head_id != head.pk:
            dept.head = head
            dept.save(update_fields=["head"])
        dept.staff.add(staff)
        add(head, f"head of {dept.title_en}, {organisation.code}")
        add(staff, f"staff of {dept.title_en}, {organisation.code}")
    for leader in organisation.leader_roles.order_by("key"):
        user = _user(
            f"{prefix}.{leader.key}",
            first=leader.key.replace("_", " ").title(),
            last=f"({organisation.code})",
            organisation=organisation,
            group=roles.LEADERS,
        )
        if leader.holder_id != user.pk:
            leader.holder = user
            leader.save(update_fields=["holder"])
        add(user, f"{leader.title_en}, {organisation.code}")


def _demo_federations(national: Organisation, provinces: int, prefectures: int, add) -> None:
    if provinces > len(DEMO_PROVINCES):
        raise ValueError(f"at most {len(DEMO_PROVINCES)} demo provinces")
    provincial = OrganisationLevel.objects.get(key="provincial")
    prefecture = OrganisationLevel.objects.get(key="prefecture")
    for code, title_en, title_zh in DEMO_PROVINCES[:provinces]:
        province = Organisation.objects.filter(code=code).first() or organisation_create(
            code=code, title_en=title_en, title_zh=title_zh, level=provincial, parent=national
        )
        _staff_federation(province, code, add)
        for n in range(1, prefectures + 1):
            city_code = f"{code}-city-{n}"
            city = Organisation.objects.filter(code=city_code).first() or organisation_create(
                code=city_code,
                title_en=f"{title_en.split()[0]} city {n} Federation of Trade Unions",
                title_zh=f"{title_zh[:2]}第{n}市总工会",
                level=prefecture,
                parent=province,
            )
            _staff_federation(city, city_code, add)


@transaction.atomic
def demo_seed(*, password: str, provinces: int = 0, prefectures: int = 0) -> list[DemoLogin]:
    """Create or refresh one account per role; returns the logins in a stable order.

    With `provinces`, also that many provincial federations (and `prefectures` cities in
    each), each with its own departments, leader roles and accounts, to demo cascading.
    """
    if not settings.ALLOW_DEMO_SEED:
        raise DemoSeedRefused("seed_demo is disabled by these settings (production)")
    if not password:
        raise ValueError("a password is required")
    national = Organisation.national()
    for name in roles.ALL_GROUPS:
        Group.objects.get_or_create(name=name)

    logins: list[DemoLogin] = []
    users = []

    def add(user, role: str):
        users.append(user)
        logins.append(DemoLogin(user.username, role))

    for dept in Department.objects.filter(organisation=national).order_by("key"):
        head = _user(
            f"{dept.key}.head",
            first="Head",
            last=dept.title_en,
            organisation=national,
            group=roles.DEPARTMENT_HEADS,
        )
        staff = _user(
            f"{dept.key}.staff",
            first="Staff",
            last=dept.title_en,
            organisation=national,
            group=roles.DEPARTMENT_STAFF,
        )
        if dept.head_id != head.pk:
            dept.head = head
            dept.save(update_fields=["head"])
        dept.staff.add(staff)
        add(head, f"head of {dept.title_en}")
        add(staff, f"staff of {dept.title_en}")

    for leader in LeaderRole.objects.filter(organisation=national).order_by("key"):
        user = _user(
            leader.key,
            first=leader.person_name or leader.key.replace("_", " ").title(),
            organisation=national,
            group=roles.LEADERS,
        )
        if leader.holder_id != user.pk:
            leader.holder = user
            leader.save(update_fields=["holder"])
        add(user, leader.title_en)

    for username, office in (
        ("coordinator.office", "General Office"),
        ("coordinator.secretariat", "Secretariat"),
    ):
        add(
            _user(
                username,
                first="Coordinator",
                last=office,
                organisation=national,
                group=roles.COORDINATORS,
            ),
            f"coordinator ({office})",
        )
    add(_user("auditor", first="Auditor", organisation=national, group=roles.AUDITORS), "auditor")

    admin = _user("admin", first="Administrator", organisation=national, group=roles.ADMINISTRATORS)
    admin.is_staff = True
    admin.is_superuser = True
    admin.save(update_fields=["is_staff", "is_superuser"])
    add(admin, "administrator (Django admin)")
    _demo_federations(national, provinces, prefectures, add)

    hashed = get_user_model()(username="x")
    hashed.set_password(password)
    get_user_model().objects.filter(pk__in=[u.pk for u in users]).update(password=hashed.password)
    return logins


def demo_password_generate() -> str:
    """A random password for demo accounts when DEMO_PASSWORD is not set."""
    return secrets.token_urlsafe(12)


def _guide_measure() -> Measure | None:
    """The catalogue's first measure: the one the demo guide follows from draft to approval."""
    return (
        Measure.objects.select_related("lead_department", "supervising_leader")
        .order_by("aspect__position", "position")
        .first()
    )


def demo_guide_case_launch():
    """Launch the guide's measure at the national federation unless its case is open, so the
    staff account the guide names finds the plan in its queue; returns (case, created), or
    (None, False) without a catalogue. Launched by the system, as `launch_measures` does."""
    from workflows.cases.launch import case_launch

    measure = _guide_measure()
    if measure is None:
        return None, False
    return case_launch(measure=measure, by=None)


def demo_logins_by_role() -> list[DemoLogin]:
    """One existing demo login per role, for a first run; staff, head and leader share a measure.

    They are the people of the catalogue's first measure, so someone trying each login in turn
    can follow that measure's case from draft to approval; until a coordinator (or `make demo`)
    has launched it, the staff line says so. Reads only; writes nothing.
    """
    measure = _guide_measure()
    if measure is None:
        return []
    launched = Case.objects.filter(
        measure=measure, organisation__parent__isnull=True, is_open=True
    ).exists()
    existing = set(get_user_model().objects.values_list("username", flat=True))
    if launched:
        staff_does = (
            f"department staff: claim the plan of measure {measure.code} from the queue, "
            "draft it and submit it"
        )
    else:
        staff_does = (
            f"department staff: draft and submit the plan of measure {measure.code} once a "
            "coordinator has launched it"
        )
    candidates = [
        DemoLogin("coordinator.office", "coordinator: launch measures, watch the programme"),
        DemoLogin(f"{measure.lead_department.key}.staff", staff_does),
        DemoLogin(
            f"{measure.lead_department.key}.head",
            f"department head: approve or return measure {measure.code}'s plan",
        ),
        DemoLogin(
            measure.supervising_leader.key,
            f"supervising leader: approve measure {measure.code}'s plan",
        ),
        DemoLogin("auditor", "auditor: reads everything, changes nothing"),
        DemoLogin("admin", "administrator: Django admin at /admin/"),
    ]
    return [login for login in candidates if login.username in existing]
