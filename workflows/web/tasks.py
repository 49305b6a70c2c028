"""Task pages: a task with its decision form, the guard override, deadline changes and
reassignment; each post is one service call.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from workflows.cases import decision_context, selectors, services
from workflows.common import reach as access
from workflows.common import reassignment, wording
from workflows.deadlines import due_dates as deadlines
from workflows.models import (
    StepKind,
    WorkItem,
)
from workflows.web import forms
from workflows.web.flash import error_text, form_errors, run_and_report

# The reassignment picker lists this many eligible people at most; a search narrows them.
REASSIGN_CANDIDATES_SHOWN = 50


def _form_for(item: WorkItem, data=None, files=None):
    if item.kind == StepKind.SUBMIT:
        return forms.SubmitForm(data, files)
    if item.kind == StepKind.IMPLEMENT:
        if data is not None and data.get("action") == "complete":
            return forms.CompleteImplementationForm(data)
        return forms.ProgressForm(data, files)
    return forms.DecisionForm(data)


def _apply(form, item: WorkItem, user, action: str):
    data = form.cleaned_data
    if item.kind == StepKind.SUBMIT:
        if action == "claim":
            return services.task_claim(item=item, user=user)
        return services.task_submit(
            item=item, user=user, note=data["note"], files=data.get("files") or []
        )
    if item.kind == StepKind.IMPLEMENT:
        if action == "complete":
            return services.task_complete(item=item, user=user, note=data.get("note", ""))
        return services.progress_report(
            item=item,
            user=user,
            percent=data["percent"],
            note=data["note"],
            files=data.get("files") or [],
        )
    if data["decision"] == "return":
        return services.task_return(item=item, user=user, reason=data["comment"])
    return services.task_approve(item=item, user=user, comment=data["comment"])


@login_required
def task_detail(request, task_id):
    item = selectors.work_item_get_visible(request.user, task_id, "case", "step", "assignee")
    case = selectors.case_get_detail(item.case_id)
    try:
        access.check_can_act(request.user, item)
        refusal = ""
    except PermissionDenied as exc:
        refusal = str(exc)
    action = request.POST.get("action", "")
    form = _form_for(item)
    decision = decision_context.decision_context(item)  # issue 17: what is decided
    decision_context.prefill(form, item, decision)
    if request.method == "POST":
        if action == "claim":
            try:
                services.task_claim(item=item, user=request.user)
                messages.success(request, _("The task is yours."))
            except (PermissionDenied, services.TaskConflict) as exc:
                messages.error(request, str(exc))
            return redirect("workflows:task", task_id=item.pk)
        form = _form_for(item, request.POST, request.FILES)
        if form.is_valid():
            try:
                _apply(form, item, request.user, action)
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error("files" if "files" in form.fields else None, message)
            except (PermissionDenied, services.TaskConflict) as exc:
                messages.error(request, str(exc))
                return redirect("workflows:task", task_id=item.pk)
            else:
                messages.success(request, wording.handoff_message(item))
                if item.kind == StepKind.IMPLEMENT and action != "complete":
                    return redirect("workflows:task", task_id=item.pk)
                return redirect("workflows:case", case_id=item.case_id)
    return render(
        request,
        "workflows/task_detail.html",
        {
            "item": item,
            "case": case,
            "form": form,
            "decision": decision,
            "complete_form": forms.CompleteImplementationForm()
            if item.kind == StepKind.IMPLEMENT
            else None,
            "refusal": refusal,
            "can_claim": item.is_open
            and item.assignee_id is None
            and access.is_candidate(request.user, item),
            "is_coordinator": access.is_coordinator(request.user),
            "can_reassign": item.is_open and access.can_coordinate(request.user, case.organisation),
            "evidence": item.evidence.all(),
            "can_manage_deadline": item.is_open
            and _may(deadlines.check_can_manage_deadline, request.user, item),
            # Own id prefixes: these forms share field names with the reassign form.
            "extend_form": forms.ExtendDeadlineForm(auto_id="extend_%s"),
            "pause_form": forms.PauseForm(auto_id="pause_%s"),
            "resume_form": forms.ResumeForm(auto_id="resume_%s"),
            "deadline_changes": item.deadline_changes.select_related("by"),
            "open_children": services.open_child_count(item.case)
            if item.kind == StepKind.IMPLEMENT and item.is_open
            else 0,
            "can_override": item.kind == StepKind.IMPLEMENT
            and item.is_open
            and item.guard_overridden_by_id is None
            and access.can_coordinate(request.user, case.organisation),
            "override_form": forms.GuardOverrideForm(),
        },
    )


@login_required
@require_POST
def task_guard_override(request, task_id):
    """A coordinator lets an implementation step close while child cases are still open."""
    item = selectors.work_item_get_visible(request.user, task_id, "case")
    form = forms.GuardOverrideForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the reason for the override."))
        return redirect("workflows:task", task_id=task_id)
    try:
        services.task_complete_override(
            item=item, by=request.user, reason=form.cleaned_data["reason"]
        )
    except (PermissionDenied, ValidationError, services.TaskConflict) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(
            request, _("The implementation may now be declared done with child cases open.")
        )
    return redirect("workflows:task", task_id=task_id)


def _may(check, *args) -> bool:
    try:
        check(*args)
    except PermissionDenied:
        return False
    return True


_DEADLINE_ACTIONS = {
    "extend": (
        forms.ExtendDeadlineForm,
        lambda item, user, data: deadlines.deadline_extend(
            item=item, by=user, new_date=data["new_date"], reason=data["reason"]
        ),
        _("The deadline is extended."),
    ),
    "pause": (
        forms.PauseForm,
        lambda item, user, data: deadlines.task_pause(item=item, by=user, reason=data["reason"]),
        _("The task is paused; its clock has stopped."),
    ),
    "resume": (
        forms.ResumeForm,
        lambda item, user, data: deadlines.task_resume(item=item, by=user, reason=data["reason"]),
        _("The task is resumed; its due date moved by the paused working days."),
    ),
}


@login_required
@require_POST
def task_deadline(request, task_id):
    """Extend (coordinators), pause or resume (coordinators, lead department head) a task."""
    item = selectors.work_item_get_visible(request.user, task_id, "case")
    action = request.POST.get("action", "")
    if action not in _DEADLINE_ACTIONS:
        messages.error(request, _("Unknown deadline action."))
        return redirect("workflows:task", task_id=task_id)
    form_class, apply, done = _DEADLINE_ACTIONS[action]
    form = form_class(request.POST)
    if not form.is_valid():
        form_errors(request, form)
        return redirect("workflows:task", task_id=task_id)
    run_and_report(request, lambda: apply(item, request.user, form.cleaned_data), done)
    return redirect("workflows:task", task_id=task_id)


@login_required
def task_reassign(request, task_id):
    """The reassignment picker (GET, `?q=` searches) and the reassignment itself (POST): a
    task goes only to people who could act on its step, in its case's federation."""
    item = selectors.work_item_get_visible(
        request.user, task_id, "case__organisation", "case__measure", "step", "department"
    )
    if not access.can_coordinate(request.user, item.case.organisation):
        raise PermissionDenied
    query = (request.GET.get("q") or "").strip()[:100]
    form = forms.ReassignForm(request.POST or None, item=item)
    if request.method == "POST":
        if form.is_valid():
            try:
                services.task_reassign(
                    item=item,
                    by=request.user,
                    to_user=form.cleaned_data["to"],
                    reason=form.cleaned_data["reason"],
                )
            except (ValidationError, services.TaskConflict) as exc:
                messages.error(request, error_text(exc))
                return redirect("workflows:task", task_id=task_id)
            messages.success(request, _("Reassigned."))
            return redirect("workflows:task", task_id=task_id)
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
    candidates = list(
        reassignment.reassign_candidate_list(item, q=query)[:REASSIGN_CANDIDATES_SHOWN]
    )
    return render(
        request,
        "workflows/reassign.html",
        {
            "item": item,
            "form": form,
            "q": query,
            "candidates": candidates,
            "more": len(candidates) == REASSIGN_CANDIDATES_SHOWN,
        },
    )
