"""Notification channels: e-mail, WeCom and DingTalk behind one interface (`base.Transport`).

`routing.rows_for_channels` turns each message into one log row per channel its recipient
reads; the notification log's delivery (notifications/delivery.py) sends each row through
`transport_for(row.channel)`. Importing this package registers every transport.
"""

from workflows.notifications.channels import dingtalk, email, wecom  # noqa: F401 - registers the transports
from workflows.notifications.channels.base import (
    ChannelError,
    ChannelOutage,
    Transport,
    registered,
    transport_for,
)
from workflows.notifications.channels.routing import rows_for_channels

__all__ = [
    "ChannelError",
    "ChannelOutage",
    "Transport",
    "registered",
    "rows_for_channels",
    "transport_for",
]
