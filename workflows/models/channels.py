"""Where notices go: each person's and department's channels (e-mail, WeCom, DingTalk) and
the addresses a channel needs. The row with neither a user nor a department is the default."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    WECOM = "wecom", _("WeCom")
    DINGTALK = "dingtalk", _("DingTalk")


# The fields that hold credentials: masked in the admin, redacted in the audit trail and in
# every error message. A value "env:NAME" is read from the environment variable NAME instead.
SECRET_FIELDS = ("wecom_robot_key", "dingtalk_robot_token", "dingtalk_robot_secret")


class ChannelSettings(models.Model):
    """One person's, one department's or (neither set) everyone's default channels, with the
    addresses they read there."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="channel_settings",
    )
    department = models.OneToOneField(
        "workflows.Department",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="channel_settings",
    )
    channels = models.JSONField(
        default=list,
        blank=True,
        help_text=_(
            "Where notices go. Empty: a person follows their department, a department the default."
        ),
    )
    wecom_user_id = models.CharField(
        _("WeCom user ID"),
        max_length=64,
        blank=True,
        help_text=_("A person's WeCom account: notices come as messages from the WeCom app."),
    )
    wecom_robot_key = models.CharField(
        _("WeCom group robot key"),
        max_length=200,
        blank=True,
        help_text=_("The key in the robot's webhook address (or env:NAME to read it from NAME)."),
    )
    dingtalk_robot_token = models.CharField(
        _("DingTalk robot access token"),
        max_length=200,
        blank=True,
        help_text=_("The access_token in the robot's webhook address (or env:NAME)."),
    )
    dingtalk_robot_secret = models.CharField(
        _("DingTalk robot signing secret"),
        max_length=200,
        blank=True,
        help_text=_("The SEC… secret of the robot's signature setting (or env:NAME)."),
    )
    # Set on save: neither a user nor a department (a unique index keeps it to one row).
    is_default = models.BooleanField(default=False, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("notification channels")
        verbose_name_plural = _("notification channels")
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=True) | Q(department__isnull=True),
                name="channel_settings_one_owner",
                violation_error_message=_("Choose a person or a department, not both."),
            ),
            # At most one default row.
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="channel_settings_one_default",
            ),
        ]

    def __str__(self) -> str:
        if self.user_id:
            return f"{self.user}"
        if self.department_id:
            return f"{self.department}"
        return str(_("Default"))

    def save(self, *args, **kwargs):
        self.is_default = self.user_id is None and self.department_id is None
        if "update_fields" in kwargs and kwargs["update_fields"] is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "is_default"}
        super().save(*args, **kwargs)

    def clean(self):
        self.is_default = self.user_id is None and self.department_id is None
        others = ChannelSettings.objects.filter(is_default=True).exclude(pk=self.pk)
        if self.is_default and others.exists():
            raise ValidationError(
                _("There is a default already; edit it, or choose a person or a department.")
            )

    @property
    def is_group(self) -> bool:
        """A department's or the default robot posts into a group chat, not to one person."""
        return self.user_id is None
