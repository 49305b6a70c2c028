"""Supervision pages: a case's supervision (lights, extension requests, orders, summons,
instructions) and feedback cycles with partner inputs.
Thin views: reads here, every change through the supervision services."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from workflows.cases import selectors
from workflows.common import reach as access
from workflows.models import (
    ExtensionRequest,
    LeaderInstruction,
    OrderStatus,
    SummonsMeeting,
    SupervisionOrder,
)
from workflows.supervision import base, extensions, lights
from workflows.supervision import cycles as supervision_cycles
from workflows.supervision import instructions as supervision_instructions
from workflows.supervision import orders as supervision_orders
from workflows.supervision import selectors as supervision_selectors
from workflows.web.flash import error_text, form_errors, run_and_report
from workflows.web.fragments import fragment_cached
from workflows.web.supervision_forms import (
    ExtensionDecisionForm,
    ExtensionRequestForm,
    ExtensionWithdrawForm,
    FeedbackReportForm,
    InstructionForm,
    OrderForm,
    PartnerInputForm,
    ResponseForm,
    SummonsForm,
)

# ------------------------------------------------------------------- actions, one service each


def _extension_request(case, user, data):
    extensions.extension_request_for_case(
        case=case,
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
    if request.method != "POST":
        # Reach first, on every request; the page itself is read and rendered once per change
        # stamp, user and language (web/fragments.py).
        selectors.case_check_visible(request.user, case_id)
        main, extra = fragment_cached(
            request,
            name="supervision",
            parts=(case_id,),
            build=lambda: (
                "workflows/supervision/_case_main.html",
                _supervision_context(request, supervision_selectors.case_get_supervised(case_id)),
            ),
        )
        return render(
            request, "workflows/supervision/case.html", {"main": main, "heading": extra["heading"]}
        )
    case = selectors.case_get_visible(request.user, case_id)
    url = reverse("workflows:supervision", args=[case.pk])
    action = request.POST.get("action", "")
    if action not in _ACTIONS:
        messages.error(request, _("Unknown action."))
        return redirect(url)
    form_class, apply, done = _ACTIONS[action]
    form = form_class(request.POST)
    if not form.is_valid():
        form_errors(request, form)
        return redirect(url)
    run_and_report(request, lambda: apply(case, request.user, form.cleaned_data), done)
    return redirect(url)


def _supervision_context(request, case) -> dict:
    """Everything a case's supervision page shows (workflows/supervision/_case_main.html)."""
    user = request.user
    open_item = base.case_open_item(case)
    requests = case.extension_requests.select_related("requested_by", "work_item__step")
    requests = requests.prefetch_related("decisions__by")
    lead_member = base.lead_member_may_act(user, case)
    return {
        "extra": {"heading": case.measure.code},
        "case": case,
        "light": getattr(case, "light", None),
        "task_lights": lights.task_lights(open_item) if open_item else None,
        "history": lights.light_history(case),
        "open_item": open_item,
        "cycles": case.cycles.select_related("report", "carried_from").order_by("-period_start"),
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
    }


@login_required
def cycle_detail(request, cycle_id):
    """One feedback cycle: the lead's prefilled report form and the partners' input form."""
    user = request.user
    seen = supervision_selectors.cycle_get_for_user(user, cycle_id)
    cycle, case, partner, lead_member = seen.cycle, seen.case, seen.partner, seen.lead_member
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
            messages.error(request, error_text(exc))
    return render(
        request,
        "workflows/supervision/cycle.html",
        {
            "cycle": cycle,
            "case": case,
            "inputs": cycle.inputs.select_related("department", "author"),
            "included": set(cycle.included_inputs.values_list("pk", flat=True)),
            "partners": access.case_partner_departments(case),
            "report_form": report_form if lead_member and cycle.status == "open" else None,
            "input_form": input_form if partner and cycle.status == "open" else None,
            "partner": partner,
        },
    )
