"""Admin for the notification channels: choices per person, per department and the default,
with robot keys and secrets that are write-only (never shown again, never in the audit trail)."""

from urllib.parse import parse_qs, urlsplit

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from workflows.audit.admin import AuditedAdmin
from workflows.models import Channel, ChannelSettings
from workflows.models.channels import SECRET_FIELDS

MASK = "••••••••"


class SecretField(forms.CharField):
    """A credential typed in, never shown: empty keeps the stored value."""

    widget = forms.PasswordInput(render_value=False)

    def has_changed(self, initial, data) -> bool:
        return bool((data or "").strip())


# A pasted webhook address is reduced to the credential it carries (the names of the query
# parameters, not credentials: accepted bandit B105).
_URL_PARAMS = {"wecom_robot_key": "key", "dingtalk_robot_token": "access_token"}  # nosec B105


class ChannelSettingsForm(forms.ModelForm):
    channels = forms.MultipleChoiceField(
        label=_("Channels"),
        choices=Channel.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_(
            "Where notices go. None ticked: a person follows their department, a department "
            "the default."
        ),
    )

    class Meta:
        model = ChannelSettings
        fields = [
            "user",
            "department",
            "channels",
            "wecom_user_id",
            "wecom_robot_key",
            "dingtalk_robot_token",
            "dingtalk_robot_secret",
        ]
        field_classes = dict.fromkeys(SECRET_FIELDS, SecretField)

    wecom_robot_key_clear = forms.BooleanField(label=_("Remove the stored key"), required=False)
    dingtalk_robot_token_clear = forms.BooleanField(
        label=_("Remove the stored token"), required=False
    )
    dingtalk_robot_secret_clear = forms.BooleanField(
        label=_("Remove the stored secret"), required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in SECRET_FIELDS:
            field = self.fields[name]
            field.required = False
            self.initial[name] = ""  # never sent to the browser
            field.widget.attrs["autocomplete"] = "new-password"
            if getattr(self.instance, name, ""):
                field.widget.attrs["placeholder"] = MASK
                field.help_text = _("A value is stored; type a new one to replace it.")

    def clean(self):
        cleaned = super().clean()
        for name in SECRET_FIELDS:
            typed = (cleaned.get(name) or "").strip()
            if cleaned.get(f"{name}_clear"):
                cleaned[name] = ""
            elif not typed:
                cleaned[name] = getattr(self.instance, name, "")
            elif name in _URL_PARAMS and typed.startswith(("http://", "https://")):
                values = parse_qs(urlsplit(typed).query).get(_URL_PARAMS[name])
                if not values:
                    self.add_error(
                        name, _("This address has no %(param)s.") % {"param": _URL_PARAMS[name]}
                    )
                else:
                    cleaned[name] = values[0]
            else:
                cleaned[name] = typed
        return cleaned


@admin.register(ChannelSettings)
class ChannelSettingsAdmin(AuditedAdmin):
    form = ChannelSettingsForm
    # They hold credentials: not for auditors, like API tokens.
    auditors_may_view = False
    list_display = ("owner", "channel_list", "wecom_user_id", "robots", "updated_at")
    list_select_related = ("user", "department__organisation")
    search_fields = ("user__username", "department__key", "department__title_en")
    raw_id_fields = ("user", "department")

    fieldsets = (
        (None, {"fields": ("user", "department", "channels")}),
        (_("WeCom"), {"fields": ("wecom_user_id", "wecom_robot_key", "wecom_robot_key_clear")}),
        (
            _("DingTalk"),
            {
                "fields": (
                    "dingtalk_robot_token",
                    "dingtalk_robot_token_clear",
                    "dingtalk_robot_secret",
                    "dingtalk_robot_secret_clear",
                )
            },
        ),
    )

    @admin.display(description=_("Whose"))
    def owner(self, obj):
        if obj.user_id:
            return obj.user
        if obj.department_id:
            return f"{obj.department} ({obj.department.organisation.code})"
        return _("Default")

    @admin.display(description=_("Channels"))
    def channel_list(self, obj):
        labels = dict(Channel.choices)
        return ", ".join(str(labels.get(c, c)) for c in obj.channels) or "—"

    @admin.display(description=_("Robots"))
    def robots(self, obj):
        present = []
        if obj.wecom_robot_key:
            present.append(str(Channel.WECOM.label))
        if obj.dingtalk_robot_token:
            present.append(str(Channel.DINGTALK.label))
        return ", ".join(present) or "—"
