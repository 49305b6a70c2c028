"""DingTalk (钉钉): a group's custom robot, signed.

Format, as DingTalk documents it (https://open.dingtalk.com/document/robots/custom-robot-access
and .../robots/message-types-and-data-format, "自定义机器人接入"):
POST {DINGTALK_API_BASE}/robot/send?access_token=TOKEN&timestamp=MS&sign=SIGN with
{"msgtype": "markdown", "markdown": {"title": ..., "text": ...}}; the answer is
{"errcode": 0, "errmsg": "ok"} (310000 "sign not match" for a bad signature or a timestamp more
than an hour off; 130101 when a robot sends more than 20 messages a minute).
With the robot's "加签" security setting, SIGN is the URL-encoded
base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")) and timestamp is the current time
in milliseconds; a robot secured by keywords or IP addresses has no secret and sends neither.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from django.conf import settings

from workflows.models import Channel
from workflows.notifications.channels.base import (
    ChannelError,
    HttpTransport,
    fit_markdown,
    register,
)
from workflows.notifications.channels.cards import card_compose

# DingTalk documents no byte limit for markdown as WeCom does; this keeps cards well inside
# what its clients show.
MARKDOWN_LIMIT_BYTES = 8000


def dingtalk_sign(secret: str, timestamp: str) -> str:
    """The robot signature before URL encoding: base64(HMAC-SHA256(secret, "ts\\nsecret"))."""
    digest = hmac.new(
        secret.encode(), f"{timestamp}\n{secret}".encode(), digestmod=hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


@register
class DingTalkTransport(HttpTransport):
    name = Channel.DINGTALK
    # 130101: more than 20 messages a minute; -1: the system is busy.
    busy_errcodes = frozenset({130101, -1})

    def send(self, notification, *, now) -> str:
        address = notification.address
        if address is None:
            raise ChannelError("no DingTalk address (its settings were deleted)")
        token = self.secret(address.dingtalk_robot_token, what="the DingTalk robot access token")
        params = {"access_token": token}
        if address.dingtalk_robot_secret:
            secret = self.secret(address.dingtalk_robot_secret, what="the DingTalk robot secret")
            timestamp = str(round(time.time() * 1000))
            # httpx URL-encodes the query once, which is the documented urlencode of the sign.
            params |= {"timestamp": timestamp, "sign": dingtalk_sign(secret, timestamp)}
        card = card_compose(notification, now=now)
        self.call(
            "POST",
            settings.DINGTALK_API_BASE.rstrip("/") + "/robot/send",
            params=params,
            body={
                "msgtype": "markdown",
                "markdown": {
                    "title": card.title,
                    "text": fit_markdown(card.markdown, MARKDOWN_LIMIT_BYTES),
                },
            },
        )
        return card.title
