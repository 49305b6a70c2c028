"""The one interface every notification channel implements, and the registry of channels.

A channel is a `Transport`: opened once per delivery batch (an SMTP connection, an HTTP
client), it sends one log row at a time and returns the line recorded as the row's subject.
It raises `ChannelError` when the platform refused that one message (a bad key, a wrong
signature) and `ChannelOutage` when the platform itself cannot be reached (refused connection,
timeout, 5xx, rate limit): the row is retried with backoff either way, and an outage also pauses
the channel for the rest of the run so its other rows wait without costing a timeout each.
Adding SMS or another platform is one more module with a registered `Transport`.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from django.conf import settings

if TYPE_CHECKING:
    from workflows.models import Notification

REDACTED = "***"


class ChannelError(Exception):
    """The platform did not take this message; the row is retried with backoff."""


class ChannelOutage(ChannelError):
    """The platform is unreachable or failing for every message; its other rows wait too."""


class Transport(ABC):
    """Sends log rows over one channel; use as a context manager around a batch."""

    name: ClassVar[str]

    def __init__(self) -> None:
        # Every secret this session used, so no error text or log line can carry one.
        self._secrets: set[str] = set()

    def __enter__(self) -> Transport:
        self.open()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def open(self) -> None:  # noqa: B027 - an optional hook
        """Acquire what the batch shares (a connection, a client); errors surface on send."""

    def close(self) -> None:  # noqa: B027 - an optional hook
        """Release it; never raises."""

    @abstractmethod
    def send(self, notification: Notification, *, now) -> str:
        """Deliver one row; return the title recorded as its subject, or raise ChannelError."""

    def secret(self, value: str, *, what: str) -> str:
        """A stored credential: the value itself, or for "env:NAME" the variable NAME."""
        value = (value or "").strip()
        if value.startswith("env:"):
            name = value[4:].strip()
            value = os.environ.get(name, "").strip()
            if not value:
                raise ChannelError(f"{what}: the environment variable {name} is not set")
        if not value:
            raise ChannelError(f"{what} is not set")
        self._secrets.add(value)
        return value

    def redact(self, text: str) -> str:
        """The text with every secret this session used replaced by ***."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text


_REGISTRY: dict[str, type[Transport]] = {}


def register(transport: type[Transport]) -> type[Transport]:
    """Class decorator: make a transport the one for its channel name."""
    _REGISTRY[str(transport.name)] = transport
    return transport


def transport_for(name: str) -> Transport:
    """A new transport for the channel `name` (KeyError for an unknown channel)."""
    return _REGISTRY[name]()


def registered() -> list[str]:
    """The channel names that have a transport."""
    return sorted(_REGISTRY)


# --------------------------------------------------------------------------- HTTP platforms


def http_client() -> httpx.Client:
    """An HTTP client with the channels' timeout; the environment's proxy settings are not
    read (CHANNEL_HTTP_PROXY is the only proxy), and redirects are not followed."""
    return httpx.Client(
        timeout=httpx.Timeout(settings.CHANNEL_HTTP_TIMEOUT),
        trust_env=False,
        proxy=settings.CHANNEL_HTTP_PROXY or None,
        follow_redirects=False,
        headers={"User-Agent": "Reformflow"},
    )


class HttpTransport(Transport):
    """A platform reached over HTTPS with JSON answers that carry `errcode` (0 is success)."""

    # Platform error codes that mean "slow down" or "try later", not "this message is wrong".
    busy_errcodes: ClassVar[frozenset[int]] = frozenset()

    client: httpx.Client | None = None

    def open(self) -> None:
        try:
            self.client = http_client()
        except Exception as exc:  # noqa: BLE001 - e.g. a malformed proxy: each send says so
            self._open_error = f"{type(exc).__name__}: {exc}"

    def close(self) -> None:
        if self.client is not None:
            self.client.close()

    def call(self, method: str, url: str, *, params: dict, body: dict | None = None) -> dict:
        """The platform's JSON answer when errcode is 0; raises ChannelError / ChannelOutage.

        Error texts name the path and never the query (robot URLs carry their keys there).
        """
        where = httpx.URL(url).path
        if self.client is None:
            raise ChannelOutage(f"no HTTP client: {self.redact(self._open_error)}")
        try:
            response = self.client.request(method, url, params=params, json=body)
        except httpx.TimeoutException as exc:
            timeout = settings.CHANNEL_HTTP_TIMEOUT
            raise ChannelOutage(f"{where}: no answer within {timeout:g} s") from exc
        except httpx.HTTPError as exc:
            detail = self.redact(str(exc)) or type(exc).__name__
            raise ChannelOutage(f"{where}: {type(exc).__name__}: {detail}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise ChannelOutage(f"{where}: HTTP {response.status_code}")
        if response.status_code != 200:
            raise ChannelError(f"{where}: HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError as exc:
            raise ChannelError(f"{where}: the answer is not JSON") from exc
        if not isinstance(data, dict):
            raise ChannelError(f"{where}: unexpected answer")
        errcode = data.get("errcode", 0)
        if errcode != 0:
            message = f"{where}: errcode {errcode}: {self.redact(str(data.get('errmsg', '')))}"
            if errcode in self.busy_errcodes:
                raise ChannelOutage(message)
            raise ChannelError(message)
        return data


def fit_markdown(text: str, limit_bytes: int) -> str:
    """The text cut at a line boundary to `limit_bytes` of UTF-8, with its last line (the link)
    kept and "…" where lines were dropped."""
    if len(text.encode()) <= limit_bytes:
        return text
    lines = text.split("\n")
    last = lines.pop()
    kept: list[str] = []
    budget = limit_bytes - len(last.encode()) - len("…\n".encode())
    for line in lines:
        size = len(line.encode()) + 1
        if size > budget:
            break
        kept.append(line)
        budget -= size
    return "\n".join([*kept, "…", last])
