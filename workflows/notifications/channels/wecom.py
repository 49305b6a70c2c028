"""WeCom (企业微信): a group robot's webhook, or a message from the WeCom app to a person.

Formats, as WeCom documents them:
- Group robot (https://developer.work.weixin.qq.com/document/path/91770, "群机器人配置说明"):
  POST {WECOM_API_BASE}/cgi-bin/webhook/send?key=KEY with
  {"msgtype": "markdown", "markdown": {"content": ...}}; content at most 4096 bytes of UTF-8;
  the answer is {"errcode": 0, "errmsg": "ok"}; at most 20 messages a minute per robot.
- App message (https://developer.work.weixin.qq.com/document/path/90236, "发送应用消息"):
  POST {WECOM_API_BASE}/cgi-bin/message/send?access_token=TOKEN with
  {"touser": USERID, "msgtype": "markdown", "agentid": AGENTID, "markdown": {"content": ...}}.
  The token comes from GET /cgi-bin/gettoken?corpid=&corpsecret=
  (https://developer.work.weixin.qq.com/document/path/91039) and lasts `expires_in` seconds
  (7200): it is cached until shortly before then, and fetched again on 40014 (invalid) or
  42001 (expired).
Their markdown subset has headings, bold, links and quotes (no lists), which the card keeps to.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

from workflows.models import Channel
from workflows.notifications.channels.base import (
    ChannelError,
    HttpTransport,
    fit_markdown,
    register,
)
from workflows.notifications.channels.cards import card_compose

MARKDOWN_LIMIT_BYTES = 4096
# Invalid or expired access token: fetch a new one and try once more.
_TOKEN_ERRCODES = frozenset({40014, 42001})
# Seconds before the platform's expiry that a cached token is dropped.
_TOKEN_MARGIN = 300


def app_configured() -> bool:
    """Whether the WeCom app (corp ID, secret, agent ID) is set, so user IDs can be reached."""
    return bool(settings.WECOM_CORP_ID and settings.WECOM_CORP_SECRET and settings.WECOM_AGENT_ID)


@register
class WeComTransport(HttpTransport):
    name = Channel.WECOM
    # 45009: the API's frequency limit; 45033: too many concurrent calls.
    busy_errcodes = frozenset({45009, 45033, -1})

    def _url(self, path: str) -> str:
        return settings.WECOM_API_BASE.rstrip("/") + path

    def send(self, notification, *, now) -> str:
        address = notification.address
        if address is None:
            raise ChannelError("no WeCom address (its settings were deleted)")
        card = card_compose(notification, now=now)
        content = fit_markdown(card.markdown, MARKDOWN_LIMIT_BYTES)
        if address.user_id is not None and address.wecom_user_id and app_configured():
            self._app_message(address.wecom_user_id, content)
        else:
            key = self.secret(address.wecom_robot_key, what="the WeCom robot key")
            self.call(
                "POST",
                self._url("/cgi-bin/webhook/send"),
                params={"key": key},
                body={"msgtype": "markdown", "markdown": {"content": content}},
            )
        return card.title

    # --- the app

    def _app_message(self, user_id: str, content: str) -> None:
        body = {
            "touser": user_id,
            "msgtype": "markdown",
            "agentid": int(settings.WECOM_AGENT_ID),
            "markdown": {"content": content},
        }
        for fresh in (False, True):
            token = self._token(fresh=fresh)
            try:
                answer = self.call(
                    "POST",
                    self._url("/cgi-bin/message/send"),
                    params={"access_token": token},
                    body=body,
                )
            except ChannelError as exc:
                if not fresh and any(f"errcode {code}:" in str(exc) for code in _TOKEN_ERRCODES):
                    continue
                raise
            if answer.get("invaliduser"):
                raise ChannelError(f"WeCom does not know the user ID {user_id!r}")
            return

    def _cache_key(self) -> str:
        corp_secret = self.secret(settings.WECOM_CORP_SECRET, what="WECOM_CORP_SECRET")
        # The secret is part of the key (a rotated secret gets a new token), hashed.
        ident = f"{settings.WECOM_CORP_ID}:{settings.WECOM_AGENT_ID}:{corp_secret}"
        return "wecom-token:" + hashlib.sha256(ident.encode()).hexdigest()[:32]

    def _token(self, *, fresh: bool) -> str:
        key = self._cache_key()
        token = None if fresh else cache.get(key)
        if token:
            self._secrets.add(token)
            return token
        answer = self.call(
            "GET",
            self._url("/cgi-bin/gettoken"),
            params={
                "corpid": settings.WECOM_CORP_ID,
                "corpsecret": self.secret(settings.WECOM_CORP_SECRET, what="WECOM_CORP_SECRET"),
            },
        )
        token = str(answer.get("access_token") or "")
        if not token:
            raise ChannelError("/cgi-bin/gettoken: no access_token in the answer")
        self._secrets.add(token)
        expires_in = int(answer.get("expires_in") or 7200)
        cache.set(key, token, timeout=max(expires_in - _TOKEN_MARGIN, 60))
        return token
