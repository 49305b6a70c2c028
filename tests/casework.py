"""Drive measure cases through the real task pages, as the people each task is routed to."""

from django.urls import reverse

from workflows.models import Case, StepKind, WorkItem


def task_url(item: WorkItem) -> str:
    return reverse("workflows:task", args=[item.pk])


def case_url(case: Case) -> str:
    return reverse("workflows:case", args=[case.pk])


def open_item_of(case: Case) -> WorkItem:
    """The case's single open work item, fresh from the database."""
    return WorkItem.objects.select_related("step", "department", "leader_role", "assignee").get(
        case=case, status="open"
    )


def routed_user(item: WorkItem):
    """Who the item is routed to: its assignee, else the queue's first staff, head or leader."""
    if item.assignee_id:
        return item.assignee
    if item.leader_role_id:
        return item.leader_role.holder
    if item.for_head:
        return item.department.head
    return item.department.staff.order_by("username").first()


def login_as(client, user) -> None:
    """Log in unless already logged in as this user (each login is an audit event)."""
    if client.session.get("_auth_user_id") != str(user.pk):
        client.force_login(user)


def post_as(client, user, item: WorkItem, data: dict):
    login_as(client, user)
    return client.post(task_url(item), data)


def claim(client, user, item: WorkItem):
    response = post_as(client, user, item, {"action": "claim"})
    assert response.status_code == 302, response
    return response


def submit(client, user, item: WorkItem, note: str, files=()):
    data = {"action": "decide", "note": note}
    if files:
        data["files"] = list(files)
    return post_as(client, user, item, data)


def decide(client, user, item: WorkItem, decision: str, comment: str = ""):
    return post_as(
        client, user, item, {"action": "decide", "decision": decision, "comment": comment}
    )


def report_progress(client, user, item: WorkItem, percent: int, note: str, files=()):
    data = {"action": "progress", "percent": percent, "note": note}
    if files:
        data["files"] = list(files)
    return post_as(client, user, item, data)


def declare_done(client, user, item: WorkItem, note: str = "Done."):
    return post_as(client, user, item, {"action": "complete", "note": note})


def advance(client, case: Case) -> WorkItem:
    """Do the case's open step the normal way, through the task page; returns the item done."""
    item = open_item_of(case)
    user = routed_user(item)
    if item.assignee_id is None:
        claim(client, user, item)
    label = f"{case.measure.code}/{item.step.key}"
    if item.kind == StepKind.SUBMIT:
        response = submit(client, user, item, f"Plan for {label}.")
    elif item.kind == StepKind.IMPLEMENT:
        response = report_progress(client, user, item, 50, f"Half of {label} done.")
        assert response.status_code == 302, response.content.decode()[:2000]
        assert response.url == task_url(item)
        response = declare_done(client, user, item, f"{label} done.")
    else:
        response = decide(client, user, item, "approve", f"{label} approved.")
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response.url == case_url(case)
    item.refresh_from_db()
    assert item.status == "done", item
    return item


def walk_to_end(client, case: Case) -> list[WorkItem]:
    """Advance the case step by step until it has no open work item; returns the items done."""
    done = []
    while WorkItem.objects.filter(case=case, status="open").exists():
        done.append(advance(client, case))
        assert len(done) <= 20, "the case never ends"
    return done


def walk_by_services(case: Case, *, until_kind: str | None = None) -> WorkItem | None:
    """Do each open step through the services as its routed user; stop at the first open step
    of `until_kind` (returned, claimed), or go on to the end (returns None)."""
    from workflows.cases import services

    while WorkItem.objects.filter(case=case, status="open").exists():
        item = open_item_of(case)
        user = routed_user(item)
        if item.assignee_id is None:
            item = services.task_claim(item=item, user=user)
        if item.kind == until_kind:
            return item
        if item.kind in (StepKind.SUBMIT, StepKind.IMPLEMENT):
            services.task_complete(item=item, user=user, note="Done.")
        else:
            services.task_approve(item=item, user=user, comment="Fine.")
    return None
