"""Supervision forms: one per action on a case's supervision page and its feedback cycles;
each field labelled, dates checked against the horizon.
"""

from django import forms
from django.utils.translation import gettext_lazy

from workflows.common import bounds
from workflows.models import (
    OrderColour,
    PartnerInput,
)


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
