"""E-mail: the message composed from templates/emails/ and sent over one SMTP connection per
batch (EMAIL_URL; a file outbox when unset)."""

from __future__ import annotations

import logging
import smtplib

from django.core.mail import get_connection

from workflows.models import Channel
from workflows.notifications.channels.base import ChannelError, ChannelOutage, Transport, register

logger = logging.getLogger(__name__)

# The server refused this message or its addresses; any other SMTP or socket error means the
# server is down or unreachable.
_REFUSED = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)


@register
class EmailTransport(Transport):
    name = Channel.EMAIL

    def open(self) -> None:
        self.connection = get_connection()
        try:
            self.connection.open()
        except Exception as exc:  # noqa: BLE001 - each send below tries again and records it
            logger.warning("mail connection failed: %s", exc)

    def close(self) -> None:
        try:
            self.connection.close()
        except Exception:  # noqa: BLE001 - closing a dead connection may fail too
            logger.debug("closing the mail connection failed", exc_info=True)

    def send(self, notification, *, now) -> str:
        from workflows.notifications.compose import notification_compose

        if not notification.recipient.email:
            raise ChannelError(f"{notification.recipient.get_username()} has no e-mail address")
        message = notification_compose(notification, now=now)
        message.connection = self.connection
        try:
            message.send()
        except _REFUSED as exc:
            raise ChannelError(f"{type(exc).__name__}: {exc}") from exc
        except OSError as exc:  # smtplib's errors are OSErrors, as are refused connections
            raise ChannelOutage(f"{type(exc).__name__}: {exc}") from exc
        return message.subject
