"""What a decision is about, and where a task stands in its rounds: plain data for the pages.

`decision_context` gathers, for one task, the submitted text and its attachments, the
measure's goal and target, every earlier round (who submitted, who decided, the return
reasons) and the progress history. It costs a fixed number of queries whatever the number
of rounds, files or progress reports (tests/test_decision_context.py).

`round_marks` annotates a task list so each row can say whether its work was returned,
resubmitted after a return, or is overdue, without a query per row.
"""

from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Subquery
from django.utils.translation import gettext as _

from workflows.models import Evidence, Outcome, ProgressUpdate, StepKind, WorkItem, WorkItemStatus

# The steps that decide on someone else's work (approve or return it).
DECIDING_KINDS = frozenset({StepKind.APPROVE, StepKind.REVIEW, StepKind.SIGN_OFF})


@dataclass
class Attachment:
    pk: int
    name: str
    size: int
    sha256: str


@dataclass
class Round:
    step: str
    outcome: str
    outcome_label: str
    by: str
    at: object
    text: str
    is_return: bool
    attachments: list = field(default_factory=list)


@dataclass
class DecisionContext:
    measure_code: str
    measure_title: str
    goal: str
    target_months: int
    submitted_text: str
    submitted_by: str
    submitted_at: object
    attachments: list
    rounds: list
    progress: list
    # For a task sent back: the reason of the latest return (shown at the top).
    return_reason: str
    returned_by: str
    # The text the form starts from when the work is done again.
    last_text: str


def _who(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def decision_context(item: WorkItem) -> DecisionContext:
    """Everything a decider (or a person redoing returned work) needs, in three queries."""
    case = item.case
    measure = case.measure
    finished = list(
        WorkItem.objects.filter(case_id=case.pk, status=WorkItemStatus.DONE)
        .exclude(pk=item.pk)
        .select_related("step", "completed_by")
        .order_by("finished_at", "pk")
    )
    files: dict[int, list[Attachment]] = {}
    for e in Evidence.objects.filter(case_id=case.pk, work_item__isnull=False).order_by(
        "uploaded_at", "pk"
    ):
        files.setdefault(e.work_item_id, []).append(
            Attachment(pk=e.pk, name=e.original_name, size=e.size, sha256=e.sha256)
        )
    rounds = [
        Round(
            step=done.step.title,
            outcome=done.outcome,
            outcome_label=done.get_outcome_display(),
            by=_who(done.completed_by),
            at=done.finished_at,
            text=done.decision_note,
            is_return=done.outcome == Outcome.RETURNED,
            attachments=files.get(done.pk, []),
        )
        for done in finished
    ]
    submissions = [r for r in rounds if r.outcome == Outcome.SUBMITTED]
    latest = submissions[-1] if submissions else None
    returns = [r for r in rounds if r.is_return]
    last_return = returns[-1] if returns else None
    # The reason shows only while it is news: the return is the last thing that happened.
    returned_now = bool(rounds) and rounds[-1].is_return and item.is_open
    progress = list(
        ProgressUpdate.objects.filter(case_id=case.pk)
        .select_related("author")
        .order_by("created_at", "pk")
    )
    return DecisionContext(
        measure_code=measure.code,
        measure_title=measure.title,
        goal=measure.summary_en or measure.basis,
        target_months=measure.target_months,
        submitted_text=latest.text if latest else "",
        submitted_by=latest.by if latest else "",
        submitted_at=latest.at if latest else None,
        attachments=latest.attachments if latest else [],
        # The submission being decided is shown above, with its files: not twice.
        rounds=[r for r in rounds if r is not latest] if not returned_now else rounds,
        progress=[
            {"at": p.created_at, "percent": p.percent, "note": p.note, "by": _who(p.author)}
            for p in progress
        ],
        return_reason=last_return.text if returned_now and last_return else "",
        returned_by=last_return.by if returned_now and last_return else "",
        last_text=latest.text if latest else "",
    )


def round_marks(queryset):
    """Annotate tasks with `prev_outcome` (the case's last finished task before this one was
    created) and `had_return` (this very step returned work on the case before)."""
    earlier = WorkItem.objects.filter(
        case_id=OuterRef("case_id"),
        status=WorkItemStatus.DONE,
        finished_at__lte=OuterRef("created_at"),
    ).order_by("-finished_at", "-pk")
    return queryset.annotate(
        prev_outcome=Subquery(earlier.values("outcome")[:1]),
        had_return=Exists(
            WorkItem.objects.filter(
                case_id=OuterRef("case_id"), step_id=OuterRef("step_id"), outcome=Outcome.RETURNED
            )
        ),
    )


def marks(item) -> list[tuple[str, str]]:
    """(css key, words) of the marks a task row carries: returned, resubmitted, overdue."""
    out = []
    if item.is_open and getattr(item, "prev_outcome", None) == Outcome.RETURNED:
        out.append(("returned", _("Returned to you")))
    elif item.is_open and getattr(item, "had_return", False):
        out.append(("resubmitted", _("Resubmitted")))
    if item.is_overdue:
        out.append(("overdue", _("Overdue")))
    return out


def prefill(form, item: WorkItem, context: DecisionContext) -> None:
    """A returned submission's form starts from the text last submitted, not empty."""
    if item.kind == StepKind.SUBMIT and item.is_open and not form.is_bound and context.last_text:
        form.initial.setdefault("note", context.last_text)
