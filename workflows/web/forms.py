"""Task forms: one per decision, each field labelled, errors shown next to the field."""

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.forms.utils import flatatt
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from workflows.common import wording
from workflows.common.bounds import validate_date_in_horizon
from workflows.models import Aspect, Measure


class QuickSelect(forms.Select):
    """A flat <select> written in Python. Django renders each option through its own templates,
    and the audit desk's hundred actions were a third of the page's CPU at national scale; the
    markup (attributes, `selected`, escaping) is the same."""

    def render(self, name, value, attrs=None, renderer=None):
        chosen = {str(v) for v in self.format_value(value)}
        options = (
            format_html(
                '<option value="{}"{}>{}</option>',
                option,
                mark_safe(" selected") if str(option) in chosen else "",  # noqa: S308 # nosec B308 B703 - a constant
                label,
            )
            for option, label in self.choices
        )
        return format_html(
            '<select name="{}"{}>\n  {}\n</select>',
            name,
            flatatt(self.build_attrs(self.attrs, attrs)),
            mark_safe("\n  ".join(options)),  # noqa: S308 # nosec B308 B703 - each escaped by format_html
        )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


class SubmitForm(forms.Form):
    note = forms.CharField(label=_("Text"), widget=forms.Textarea(attrs={"rows": 6}))
    files = MultipleFileField(label=_("Attachments"), required=False)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[("approve", _("Approve")), ("return", _("Return for rework"))],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Comment or reason"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("A reason is required when you return the work."),
    )

    def clean(self):
        data = super().clean()
        if data.get("decision") == "return" and not (data.get("comment") or "").strip():
            self.add_error("comment", _("Give the reason for returning the work."))
        return data


class ProgressForm(forms.Form):
    percent = forms.IntegerField(label=_("Percent complete"), min_value=0, max_value=100)
    note = forms.CharField(label=_("Progress narrative"), widget=forms.Textarea(attrs={"rows": 5}))
    files = MultipleFileField(label=_("Evidence files"), required=False)


class CompleteImplementationForm(forms.Form):
    note = forms.CharField(
        label=_("Closing note"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )

    def __init__(self, *args, **kwargs):
        # It shares the page with ProgressForm, whose narrative is also `note`: distinct ids
        # keep each label tied to its own textarea (the posted field name stays `note`).
        kwargs.setdefault("auto_id", "id_complete_%s")
        super().__init__(*args, **kwargs)


class ReassignForm(forms.Form):
    """Hand a task to one of the people who could act on its step (common.reach);
    anyone else is refused here, next to the field, with the reason."""

    to = forms.CharField(
        label=_("New assignee"),
        max_length=150,
        help_text=_("The username of one of the people listed."),
    )
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, item=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.item = item

    def clean_to(self):
        from workflows.common.reassignment import check_reassign_target

        username = self.cleaned_data["to"].strip()
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(_("No active user named %(name)s.") % {"name": username})
        try:
            check_reassign_target(self.item, user)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc
        return user


class LaunchForm(forms.Form):
    measure = forms.ModelChoiceField(
        label=_("Measure"),
        queryset=Measure.objects.order_by("aspect__position", "position"),
        to_field_name="code",
        required=False,
    )
    all_measures = forms.BooleanField(label=_("Launch every measure"), required=False)


class CommentForm(forms.Form):
    text = forms.CharField(label=_("Comment"), widget=forms.Textarea(attrs={"rows": 3}))


class ExtendDeadlineForm(forms.Form):
    new_date = forms.DateField(
        label=_("New due date"),
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validate_date_in_horizon],
    )
    reason = forms.CharField(
        label=_("Reason for the extension"), widget=forms.Textarea(attrs={"rows": 2})
    )


class PauseForm(forms.Form):
    reason = forms.CharField(
        label=_("Why the clock stops"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For example: waiting for a decision outside the department."),
    )


class ResumeForm(forms.Form):
    reason = forms.CharField(
        label=_("Note on resuming"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class NotificationPreferenceForm(forms.Form):
    notification_mode = forms.ChoiceField(
        label=_("How do you want reminders and escalations?"),
        choices=[
            ("immediate", _("By e-mail as they happen, plus the daily digest")),
            ("digest", _("Only in the daily digest at 08:30")),
        ],
        widget=forms.RadioSelect,
    )


class AuditFilterForm(forms.Form):
    """The audit desk's filters; every field is optional."""

    verb = forms.ChoiceField(label=_("Action"), required=False, widget=QuickSelect)
    actor = forms.CharField(
        label=_("User"), required=False, help_text=_("A username, or “system”.")
    )
    case = forms.CharField(
        label=_("Case or measure"), required=False, help_text=_("A case number or a measure code.")
    )
    since = forms.DateField(
        label=_("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validate_date_in_horizon],
    )
    until = forms.DateField(
        label=_("To (inclusive)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validate_date_in_horizon],
    )

    def __init__(self, *args, verbs=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["verb"].choices = [("", _("Any"))] + wording.verb_choices(verbs)

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            raise forms.ValidationError(_("“From” is after “To”."))
        return data


class ReportRequestForm(forms.Form):
    aspect = forms.ModelChoiceField(
        label=_("Scope"),
        required=False,
        queryset=Aspect.objects.all(),
        to_field_name="code",
        empty_label=_("The whole programme"),
    )


class CascadeForm(forms.Form):
    """Cascade to chosen organisations directly below, or to all of them at one level."""

    organisations = forms.MultipleChoiceField(
        label=_("Organisations"), required=False, widget=forms.CheckboxSelectMultiple
    )
    level = forms.ChoiceField(label=_("Or every organisation at this level"), required=False)

    def __init__(self, *args, choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisations"].choices = [(o.code, o.title) for o in choices]
        levels = {o.level.key: o.level.title for o in choices}
        self.fields["level"].choices = [("", "—"), *levels.items()]

    def clean(self):
        data = super().clean()
        if bool(data.get("organisations")) == bool(data.get("level")):
            raise forms.ValidationError(_("Tick organisations or choose one level (not both)."))
        return data


class GuardOverrideForm(forms.Form):
    reason = forms.CharField(
        label=_("Why the implementation may close with child cases open"),
        widget=forms.Textarea(attrs={"rows": 2}),
    )
