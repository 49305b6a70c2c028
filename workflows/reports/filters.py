"""The report list's filters, parsed once for the reports desk and the API (GET, all optional)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from workflows.models import Aspect, Measure, ReportKind, ReportStatus


class ReportFilterForm(forms.Form):
    """The reports desk's filters (GET); every field optional."""

    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("Any kind")), *ReportKind.choices]
    )
    measure = forms.ModelChoiceField(
        label=_("Measure"),
        required=False,
        queryset=Measure.objects.order_by("aspect__position", "position"),
        to_field_name="code",
        empty_label=_("Any measure"),
    )
    aspect = forms.ModelChoiceField(
        label=_("Aspect"),
        required=False,
        queryset=Aspect.objects.all(),
        to_field_name="code",
        empty_label=_("Any aspect"),
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *ReportStatus.choices]
    )
