"""Supervision pages: a case's supervision (lights, extension requests, orders, summons,
instructions), feedback cycles with partner inputs, the appraisal and its bulletin, the ledger.
Thin views: reads here, every change through workflows.supervision.services."""

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from workflows.appraisal import scoring as appraisal
from workflows.cases import selectors
from workflows.common import bounds
from workflows.common.calendar import local_date
from workflows.common.db_router import replica_view
from workflows.models import (
    Department,
    ExtensionRequest,
    FeedbackCycle,
    LeaderInstruction,
    OrderColour,
    OrderStatus,
    PartnerInput,
    ScoreEntry,
    SummonsMeeting,
    SupervisionOrder,
    WorkItemStatus,
)
from workflows.organisations import reach as access
from workflows.reports import ledger
from workflows.supervision import base, extensions, lights
from workflows.supervision import cycles as supervision_cycles
from workflows.supervision import instructions as supervision_instructions
from workflows.supervision import orders as supervision_orders

# --------------------------------------------------------------------------- forms


class ExtensionRequestForm(forms.Form):
    new_date = forms.DateField(
        label=gettext_lazy("Requested due date"),
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[bounds.validate_date_in_horizon],
    )
    percent = forms.IntegerField(
        label=gettext_lazy("Current progress (%)"), min_value=0, max_value=100
    )
    reason = forms.CharField(label=gettext_lazy("Reason"), widget=forms.Textarea(attrs={"rows": 3}))


class ExtensionDecisionForm(forms.Form):
    request_id = forms.IntegerField(widget=forms.HiddenInput)
    decision = forms.ChoiceField(
        label=gettext_lazy("Decision"),
        choices=[("approve", gettext_lazy("Approve")), ("refuse", gettext_lazy("Refuse"))],
        widget=forms.RadioSelect,
    )
    date = forms.DateField(
        label=gettext_lazy("Due date you approve"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[bounds.validate_date_in_horizon],
    )
    note = forms.CharField(
        label=gettext_lazy("Note (required to refuse)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ExtensionWithdrawForm(forms.Form):
    request_id = forms.IntegerField(widget=forms.HiddenInput)


class OrderForm(forms.Form):
    colour = forms.ChoiceField(label=gettext_lazy("Colour"), choices=OrderColour.choices)
    reason = forms.CharField(
        label=gettext_lazy("Why the case is lagging"), widget=forms.Textarea(attrs={"rows": 3})
    )


class ResponseForm(forms.Form):
    target_id = forms.IntegerField(widget=forms.HiddenInput)
    text = forms.CharField(label=gettext_lazy("Response"), widget=forms.Textarea(attrs={"rows": 3}))


class SummonsForm(forms.Form):
    target_id = forms.IntegerField(widget=forms.HiddenInput)
    held_on = forms.DateField(
        label=gettext_lazy("Held on"),
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[bounds.validate_date_in_horizon],
    )
    outcome = forms.CharField(
        label=gettext_lazy("Outcome"), widget=forms.Textarea(attrs={"rows": 3})
    )


class InstructionForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Instruction"), widget=forms.Textarea(attrs={"rows": 3})
    )
    due_date = forms.DateField(
        label=gettext_lazy("Reply due by"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("Empty: 10 working days from today."),
        validators=[bounds.validate_date_in_horizon],
    )


class FeedbackReportForm(forms.Form):
    percent = forms.IntegerField(label=gettext_lazy("Percent complete"), min_value=0, max_value=100)
    note = forms.CharField(
        label=gettext_lazy("Consolidated progress report"),
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    inputs = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Partner inputs included"),
        queryset=PartnerInput.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, cycle=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["inputs"].queryset = cycle.inputs.select_related("department")
        self.fields["inputs"].label_from_instance = lambda i: f"{i.department.title}: {i.text}"


class PartnerInputForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Your department's input"), widget=forms.Textarea(attrs={"rows": 4})
    )


# --------------------------------------------------------------------------- helpers


def _message(exc) -> str:
    return " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)


def _form_errors(request, form) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        messages.error(request, f"{label}: {' '.join(errors)}" if label else " ".join(errors))


def _extension_request(case, user, data):
    item = case.work_items.filter(status=WorkItemStatus.OPEN).order_by("created_at").first()
    if item is None:
        raise ValidationError(_("The case has no open task."))
    extensions.extension_request(
        item=item,
        user=user,
        reason=data["reason"],
        new_date=data["new_date"],
        percent=data["percent"],
    )


def _extension_decide(case, user, data):
    request = get_object_or_404(ExtensionRequest, pk=data["request_id"], case=case)
    extensions.extension_decide(
        request=request,
        user=user,
        approve=data["decision"] == "approve",
        date=data["date"],
        note=data["note"],
    )


def _extension_withdraw(case, user, data):
    request = get_object_or_404(ExtensionRequest, pk=data["request_id"], case=case)
    extensions.extension_withdraw(request=request, user=user)


def _order_issue(case, user, data):
    supervision_orders.order_issue(case=case, by=user, colour=data["colour"], reason=data["reason"])


def _order_respond(case, user, data):
    order = get_object_or_404(SupervisionOrder, pk=data["target_id"], case=case)
    supervision_orders.order_respond(order=order, user=user, text=data["text"])


def _summons_record(case, user, data):
    meeting = get_object_or_404(SummonsMeeting, pk=data["target_id"], order__case=case)
    supervision_orders.summons_record(
        meeting=meeting, by=user, held_on=data["held_on"], outcome=data["outcome"]
    )


def _instruction_issue(case, user, data):
    supervision_instructions.instruction_issue(
        case=case, leader=user, text=data["text"], due_date=data["due_date"]
    )


def _instruction_reply(case, user, data):
    instruction = get_object_or_404(LeaderInstruction, pk=data["target_id"], case=case)
    supervision_instructions.instruction_reply(
        instruction=instruction, user=user, text=data["text"]
    )


_ACTIONS = {
    "request_extension": (ExtensionRequestForm, _extension_request, gettext_lazy("Requested.")),
    "decide_extension": (ExtensionDecisionForm, _extension_decide, gettext_lazy("Decided.")),
    "withdraw_extension": (
        ExtensionWithdrawForm,
        _extension_withdraw,
        gettext_lazy("The request is withdrawn."),
    ),
    "issue_order": (OrderForm, _order_issue, gettext_lazy("The supervision order is issued.")),
    "respond_order": (ResponseForm, _order_respond, gettext_lazy("The response is recorded.")),
    "record_summons": (SummonsForm, _summons_record, gettext_lazy("The meeting is recorded.")),
    "issue_instruction": (InstructionForm, _instruction_issue, gettext_lazy("Instruction issued.")),
    "reply_instruction": (ResponseForm, _instruction_reply, gettext_lazy("Reply recorded.")),
}


# --------------------------------------------------------------------------- pages


@login_required
def case_supervision(request, case_id):
    """A case's supervision page; its forms post back here with an `action`."""
    case = selectors.case_get_visible(request.user, case_id)
    url = reverse("workflows:supervision", args=[case.pk])
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in _ACTIONS:
            messages.error(request, _("Unknown action."))
            return redirect(url)
        form_class, apply, done = _ACTIONS[action]
        form = form_class(request.POST)
        if not form.is_valid():
            _form_errors(request, form)
            return redirect(url)
        try:
            apply(case, request.user, form.cleaned_data)
        except (PermissionDenied, ValidationError) as exc:
            messages.error(request, _message(exc))
        else:
            messages.success(request, done)
        return redirect(url)
    user = request.user
    open_item = (
        case.work_items.filter(status=WorkItemStatus.OPEN)
        .select_related("step")
        .order_by("created_at")
        .first()
    )
    requests = case.extension_requests.select_related("requested_by", "work_item__step")
    requests = requests.prefetch_related("decisions__by")
    lead_member = base.is_lead_member(user, case) and not access.is_auditor(user)
    return render(
        request,
        "workflows/supervision/case.html",
        {
            "case": case,
            "light": getattr(case, "light", None),
            "task_lights": lights.task_lights(open_item) if open_item else None,
            "history": lights.light_history(case),
            "open_item": open_item,
            "cycles": case.cycles.select_related("report", "carried_from").order_by(
                "-period_start"
            ),
            "requests": requests,
            "orders": case.supervision_orders.select_related(
                "issued_by", "responded_by", "summons__department_head"
            ),
            "instructions": case.instructions.select_related("leader", "replied_by"),
            "now": timezone.now(),
            "can_request": lead_member and open_item is not None and open_item.due_at is not None,
            "can_decide_head": base.is_lead_head(user, case),
            "can_decide_leader": base.is_supervising_leader(user, case),
            "lead_member": lead_member,
            "is_coordinator": access.is_coordinator(user),
            "is_leader": access.is_leader(user) and not access.is_auditor(user),
            "request_form": ExtensionRequestForm(),
            "order_form": OrderForm(),
            "instruction_form": InstructionForm(),
            "pending": extensions.EXTENSION_PENDING,
            "order_open": OrderStatus.OPEN,
        },
    )


@login_required
def cycle_detail(request, cycle_id):
    """One feedback cycle: the lead's prefilled report form and the partners' input form."""
    cycle = get_object_or_404(
        FeedbackCycle.objects.select_related("case__measure", "report", "carried_from"), pk=cycle_id
    )
    user = request.user
    # Partner departments see the cycle they contribute to, even without other access.
    partner = access.cycle_partner_department(user, cycle)
    if partner is None:
        case = selectors.case_get_visible(user, cycle.case_id)
    else:
        case = selectors.case_get_detail(cycle.case_id)
    lead_member = base.is_lead_member(user, case) and not access.is_auditor(user)
    report_form = FeedbackReportForm(
        cycle=cycle, initial=supervision_cycles.feedback_prefill(cycle)
    )
    input_form = PartnerInputForm()
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "report":
                report_form = FeedbackReportForm(request.POST, cycle=cycle)
                if report_form.is_valid():
                    data = report_form.cleaned_data
                    supervision_cycles.feedback_submit(
                        cycle=cycle,
                        user=user,
                        percent=data["percent"],
                        note=data["note"],
                        inputs=data["inputs"],
                    )
                    messages.success(request, _("The report is submitted."))
                    return redirect("workflows:cycle", cycle_id=cycle.pk)
            elif action == "input":
                input_form = PartnerInputForm(request.POST)
                if input_form.is_valid():
                    supervision_cycles.partner_input_add(
                        cycle=cycle, user=user, text=input_form.cleaned_data["text"]
                    )
                    messages.success(request, _("Your input is saved."))
                    return redirect("workflows:cycle", cycle_id=cycle.pk)
            else:
                messages.error(request, _("Unknown action."))
        except (PermissionDenied, ValidationError) as exc:
            messages.error(request, _message(exc))
    return render(
        request,
        "workflows/supervision/cycle.html",
        {
            "cycle": cycle,
            "case": case,
            "inputs": cycle.inputs.select_related("department", "author"),
            "included": set(cycle.included_inputs.values_list("pk", flat=True)),
            "partners": base.partner_departments(case),
            "report_form": report_form if lead_member and cycle.status == "open" else None,
            "input_form": input_form if partner and cycle.status == "open" else None,
            "partner": partner,
        },
    )


def _organisation(request):
    """The federation a supervision page is about: `?organisation=<code>` within the user's
    reach, else the user's own (national if none); out of reach: 404."""
    code = request.GET.get("organisation") or request.POST.get("organisation") or ""
    return selectors.organisation_get_visible(request.user, code[:60])


def _period(request, organisation=None) -> dt.date:
    """?period=YYYY-MM (GET or POST); without one, the federation's latest scored month, else
    last month. Outside the date horizon: a 400 naming the field (bounds.InputRejected)."""
    text = request.GET.get("period") or request.POST.get("period") or ""
    try:
        year, month = (int(part) for part in text.split("-")[:2])
    except ValueError:
        latest = appraisal.latest_period(organisation)
        if latest:
            return latest
        today = local_date(timezone.now())
        return (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    try:
        period = dt.date(year, month, 1)
    except ValueError:
        raise bounds.InputRejected("period", _("Give a month as YYYY-MM.")) from None
    return bounds.check_query_date(period, field="period")


def _organisation_choices(user, organisation) -> list:
    """The appraisal's federation menu: the user's own and the ones right below it, and the
    one shown; any other within reach works by its code in the URL."""
    home = access.organisation_default(user)
    choices = selectors.organisation_list_visible(user).filter(
        Q(pk=organisation.pk) | Q(pk=home.pk) | Q(parent=home)
    )
    return list(choices.only("code", "title_en", "title_zh", "level"))


@login_required
@replica_view
def appraisal_page(request):
    """A federation's month: its departments ranked among themselves. Its coordinators (and
    those above) rebuild it from the audit trail."""
    organisation = _organisation(request)
    period = _period(request, organisation)
    if request.method == "POST":
        appraisal.appraisal_rebuild(period=period, organisation=organisation, by=request.user)
        messages.success(request, _("The appraisal is recomputed."))
        query = urlencode({"period": f"{period:%Y-%m}", "organisation": organisation.code})
        return redirect(reverse("workflows:appraisal") + f"?{query}")
    return render(
        request,
        "workflows/supervision/appraisal.html",
        {
            "bulletin": appraisal.bulletin_get(period=period, organisation=organisation),
            "period": period,
            "organisation": organisation,
            "organisations": _organisation_choices(request.user, organisation),
            "can_rebuild": access.can_coordinate(request.user, organisation),
        },
    )


@login_required
@replica_view
def appraisal_department(request, department_id):
    """A department's points in the month, each linked to the task and event behind it; a
    department of a federation out of reach is a 404. Notes and links show only for the cases
    the user may see."""
    departments = Department.objects.filter(
        organisation__in=selectors.organisation_list_visible(request.user)
    ).select_related("organisation")
    department = get_object_or_404(departments, pk=department_id)
    period = _period(request, department.organisation)
    entries = list(
        ScoreEntry.objects.filter(period=period, department=department).select_related(
            "case__measure", "work_item__step", "event", "extension"
        )
    )
    visible = set(
        access.case_list_visible(request.user)
        .filter(pk__in={e.case_id for e in entries})
        .values_list("pk", flat=True)
    )
    return render(
        request,
        "workflows/supervision/appraisal_department.html",
        {
            "department": department,
            "period": period,
            "entries": entries,
            "total": sum(e.points for e in entries),
            "visible": visible,
        },
    )


@login_required
@replica_view
def bulletin_pdf(request):
    """A federation's monthly bulletin (情况通报) as a PDF download."""
    organisation = _organisation(request)
    period = _period(request, organisation)
    pdf = appraisal.bulletin_pdf(
        period=period, organisation=organisation, language=request.LANGUAGE_CODE
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    name = f"bulletin-{organisation.code}-{period:%Y-%m}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


_LEDGER_TYPES = {
    "xlsx": (
        ledger.ledger_xlsx,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    "docx": (
        ledger.ledger_docx,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
}


@login_required
@replica_view
def ledger_export(request, fmt):
    """A federation's programme ledger (台账) as XLSX or DOCX: its own cases, one row per
    measure (`?organisation=<code>`, by default the user's own); with `?below=1`, every case
    the user may see in it and the federations below it, one row per case. Every row names
    its federation."""
    if fmt not in _LEDGER_TYPES:
        raise Http404
    render_file, content_type = _LEDGER_TYPES[fmt]
    organisation = _organisation(request)
    below = request.GET.get("below") == "1"
    today = local_date(timezone.now())
    title = _("Reform programme ledger of %(federation)s, %(date)s") % {
        "federation": organisation.title,
        "date": today.isoformat(),
    }
    rows = ledger.ledger_rows(request.user, organisation=organisation, below=below)
    content = render_file(rows, title=title)
    response = HttpResponse(content, content_type=content_type)
    name = f"ledger-{organisation.code}{'-below' if below else ''}-{today}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
