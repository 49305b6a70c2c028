"""MeasureFlow: one flow that walks a measure's step template, whatever its order or length.

The graph has one human node per step *kind*; `route` sends the case to the node of its
current step's kind, so templates with extra approvals, two implementation phases or a
Fund Review Committee step all run on the same flow, and admins can edit templates
without a code change. Which step a task belongs to is kept on its WorkItem.
"""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from viewflow import this
from viewflow.workflow import flow, lock

from workflows.cases import routing, services
from workflows.models import Case, StepKind, WorkItem


class _TaskPageRedirect(RedirectView):
    """viewflow's task URL leads to Reformflow's own task page, where access is checked."""

    def get_redirect_url(self, *args, **kwargs):
        return reverse("workflows:task", args=[kwargs["task_pk"]])


class StepView(flow.View):
    """A human step whose permissions come from the rule of reach, not viewflow's defaults.

    Claiming and releasing go through workflows.cases.services (which audit them), so viewflow's
    own assign/unassign actions are closed.
    """

    def can_execute(self, user, task):
        from workflows.common.reach import check_can_act

        try:
            check_can_act(user, WorkItem.objects.get(pk=task.pk))
        except Exception:  # noqa: BLE001 - any refusal means "no" to viewflow's UI
            return False
        return True

    def can_assign(self, user, task):
        return False

    def can_unassign(self, user, task):
        return False


def _current_kind_is(kind: str):
    def condition(activation) -> bool:
        step = activation.process.current_step
        return step is not None and step.kind == kind

    return condition


def _step(kind: str) -> StepView:
    return (
        StepView(_TaskPageRedirect.as_view())
        .Annotation(title=StepKind(kind).label)
        .Assign(this.step_owner)
        .onCreate(this.work_item_opened)
        .Next(this.route)
    )


class MeasureFlow(flow.Flow):
    process_class = Case
    # Blocking row lock: a second concurrent decision waits, then sees the task done.
    lock_impl = lock.SelectForUpdateLock(nowait=False)
    process_title = _("Measure case")
    process_description = _("A reform measure run from its first step to completion.")

    start = flow.StartHandle(this.start_case).Next(this.route)

    route = (
        flow.Switch()
        .Case(this.submit, _current_kind_is(StepKind.SUBMIT))
        .Case(this.approve, _current_kind_is(StepKind.APPROVE))
        .Case(this.implement, _current_kind_is(StepKind.IMPLEMENT))
        .Case(this.review, _current_kind_is(StepKind.REVIEW))
        .Case(this.sign_off, _current_kind_is(StepKind.SIGN_OFF))
        .Default(this.completion_report)
    )

    submit = _step(StepKind.SUBMIT)
    approve = _step(StepKind.APPROVE)
    implement = _step(StepKind.IMPLEMENT)
    review = _step(StepKind.REVIEW)
    sign_off = _step(StepKind.SIGN_OFF)

    # Waits for the reports work: it renders the completion report, then runs this node.
    completion_report = flow.Handle(this.completion_report_stored).Next(this.end)
    end = flow.End()

    def has_view_permission(self, user, obj=None):
        # viewflow's own process and task pages are an engine view for coordinators and
        # auditors; everyone else works from Reformflow's pages, which filter per case.
        from workflows.common.reach import sees_everything

        return sees_everything(user)

    def has_manage_permission(self, user, obj=None):
        # viewflow's cancel/undo/revive would change cases without the services' checks and
        # audit trail; superusers included, nobody manages cases through the engine pages.
        return False

    def start_case(
        self, activation, *, measure, organisation, launched_by, parent_case=None, deadline_cap=None
    ):
        return services.case_prepare(
            case=activation.process,
            measure=measure,
            organisation=organisation,
            by=launched_by,
            parent_case=parent_case,
            deadline_cap=deadline_cap,
        )

    def step_owner(self, activation):
        return routing.step_assignee(case=activation.process)

    def work_item_opened(self, activation):
        routing.work_item_open(task=activation.task, case=activation.process)

    def completion_report_stored(self, activation, **kwargs):
        return activation.process
