"""WeCom and DingTalk on loopback: a real HTTP server that checks every request against the
platforms' documented formats, answers as they do, and keeps a log.

- WeCom group robot: POST /cgi-bin/webhook/send?key=KEY, {"msgtype": "markdown",
  "markdown": {"content": <= 4096 bytes}}; unknown key -> errcode 93000.
- WeCom app: GET /cgi-bin/gettoken?corpid=&corpsecret= issues a token for 7200 s;
  POST /cgi-bin/message/send?access_token=T, {"touser", "msgtype": "markdown", "agentid",
  "markdown": {"content"}}; an expired token -> 42001, an unknown one -> 40014.
- DingTalk custom robot: POST /robot/send?access_token=T&timestamp=MS&sign=S, {"msgtype":
  "markdown", "markdown": {"title", "text"}}; the signature is recomputed from the robot's
  secret (base64 HMAC-SHA256 of "timestamp\\nsecret") and the timestamp must be within an
  hour: otherwise errcode 310000 "sign not match".

Each platform can be switched to "error" (HTTP 503) or "slow" (answers after `slow_seconds`).
The receiver reads the clock through time.time(), so time-machine moves it with the tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

WECOM, DINGTALK = "wecom", "dingtalk"
TOKEN_SECONDS = 7200
MASKED_PARAMS = ("key", "access_token", "corpsecret", "sign")


@dataclass
class Entry:
    platform: str
    method: str
    path: str
    query: dict[str, str]
    body: object
    mode: str
    status: int = 0
    answer: dict = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        """The platform took the message (answered 200 with errcode 0, in time)."""
        return self.mode == "ok" and self.status == 200 and self.answer.get("errcode") == 0

    def text(self) -> str:
        query = "&".join(f"{k}={'***' if k in MASKED_PARAMS else v}" for k, v in self.query.items())
        body = json.dumps(self.body, ensure_ascii=False, indent=2) if self.body else ""
        answer = json.dumps(self.answer, ensure_ascii=False) if self.answer else ""
        head = f"{self.method} {self.path}?{query} -> {self.status} {answer}".rstrip()
        return f"{head}\n{body}".rstrip()


class PlatformReceiver:
    def __init__(self, port: int):
        self.port = port
        self.wecom_robot_keys: set[str] = set()
        self.wecom_corp: tuple[str, str, int] | None = None  # corp id, secret, agent id
        self.dingtalk_robots: dict[str, str | None] = {}  # access token -> secret
        self.modes = {WECOM: "ok", DINGTALK: "ok"}
        self.slow_seconds = 1.0
        self.log: list[Entry] = []
        self.tokens: dict[str, float] = {}  # issued access token -> expiry (time.time())
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PlatformReceiver:
        receiver = self

        class Handler(_Handler):
            pass

        Handler.receiver = receiver
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def accepted(self, platform: str, path: str | None = None) -> list[Entry]:
        return [
            e
            for e in self.log
            if e.platform == platform and e.accepted and (path is None or e.path == path)
        ]

    def requests(self, platform: str, path: str | None = None) -> list[Entry]:
        return [e for e in self.log if e.platform == platform and (path is None or e.path == path)]

    def text(self) -> str:
        return "\n\n".join(entry.text() for entry in self.log)

    # --- the platforms

    def wecom_robot(self, query, body) -> dict:
        if query.get("key") not in self.wecom_robot_keys:
            return {"errcode": 93000, "errmsg": "invalid webhook url"}
        return _markdown_content_problem(body, {"msgtype", "markdown"}) or _ok()

    def wecom_gettoken(self, query) -> dict:
        if self.wecom_corp is None or query.get("corpid") != self.wecom_corp[0]:
            return {"errcode": 40013, "errmsg": "invalid corpid"}
        if query.get("corpsecret") != self.wecom_corp[1]:
            return {"errcode": 40001, "errmsg": "invalid credential"}
        with self.lock:
            token = f"wecom-token-{len(self.tokens) + 1}"
            self.tokens[token] = time.time() + TOKEN_SECONDS
        return {**_ok(), "access_token": token, "expires_in": TOKEN_SECONDS}

    def wecom_message(self, query, body) -> dict:
        token = query.get("access_token")
        if token not in self.tokens:
            return {"errcode": 40014, "errmsg": "invalid access_token"}
        if self.tokens[token] <= time.time():
            return {"errcode": 42001, "errmsg": "access_token expired"}
        problem = _markdown_content_problem(body, {"touser", "msgtype", "agentid", "markdown"})
        if problem:
            return problem
        if body["agentid"] != self.wecom_corp[2] or not isinstance(body["touser"], str):
            return {"errcode": 40056, "errmsg": "invalid agentid or touser"}
        return {**_ok(), "invaliduser": "", "msgid": f"msg-{len(self.log)}"}

    def dingtalk_robot(self, query, body) -> dict:
        token = query.get("access_token")
        if token not in self.dingtalk_robots:
            return {"errcode": 300001, "errmsg": "token is not exist"}
        secret = self.dingtalk_robots[token]
        if secret is not None:
            timestamp = query.get("timestamp", "")
            expected = base64.b64encode(
                hmac.new(
                    secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256
                ).digest()
            ).decode()
            fresh = timestamp.isdigit() and abs(time.time() * 1000 - int(timestamp)) <= 3600_000
            if not fresh or not hmac.compare_digest(query.get("sign", ""), expected):
                return {"errcode": 310000, "errmsg": "sign not match"}
        if not isinstance(body, dict) or set(body) != {"msgtype", "markdown"}:
            return {"errcode": 40035, "errmsg": "缺少参数 json"}
        markdown = body.get("markdown")
        if (
            body.get("msgtype") != "markdown"
            or not isinstance(markdown, dict)
            or set(markdown) != {"title", "text"}
            or not all(isinstance(markdown[k], str) and markdown[k] for k in ("title", "text"))
        ):
            return {"errcode": 40035, "errmsg": "缺少参数 markdown title/text"}
        return _ok()


def _ok() -> dict:
    return {"errcode": 0, "errmsg": "ok"}


def _markdown_content_problem(body, keys: set[str]) -> dict | None:
    if not isinstance(body, dict) or set(body) != keys or body.get("msgtype") != "markdown":
        return {"errcode": 40008, "errmsg": "invalid message type"}
    markdown = body.get("markdown")
    content = markdown.get("content") if isinstance(markdown, dict) else None
    if not isinstance(content, str) or not content or set(markdown) != {"content"}:
        return {"errcode": 41009, "errmsg": "missing markdown content"}
    if len(content.encode()) > 4096:
        return {"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"}
    return None


class _Handler(BaseHTTPRequestHandler):
    receiver: PlatformReceiver
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - http.server's signature
        pass  # the receiver keeps its own log

    def do_GET(self):  # noqa: N802 - http.server's hook name
        self._handle()

    def do_POST(self):  # noqa: N802 - http.server's hook name
        self._handle()

    def _handle(self):
        receiver = self.receiver
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        platform = DINGTALK if split.path.startswith("/robot/") else WECOM
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        entry = Entry(platform, self.command, split.path, query, body, receiver.modes[platform])
        with receiver.lock:
            receiver.log.append(entry)
        if entry.mode == "error":
            return self._answer(entry, 503, {})
        if entry.mode == "slow":
            time.sleep(receiver.slow_seconds)
        if self.command == "POST" and not self.headers.get("Content-Type", "").startswith(
            "application/json"
        ):
            return self._answer(entry, 200, {"errcode": 40035, "errmsg": "not JSON"})
        routes = {
            ("POST", "/cgi-bin/webhook/send"): lambda: receiver.wecom_robot(query, body),
            ("GET", "/cgi-bin/gettoken"): lambda: receiver.wecom_gettoken(query),
            ("POST", "/cgi-bin/message/send"): lambda: receiver.wecom_message(query, body),
            ("POST", "/robot/send"): lambda: receiver.dingtalk_robot(query, body),
        }
        route = routes.get((self.command, split.path))
        if route is None:
            return self._answer(entry, 404, {})
        self._answer(entry, 200, route())

    def _answer(self, entry: Entry, status: int, answer: dict):
        entry.status, entry.answer = status, answer
        payload = json.dumps(answer).encode() if answer else b"Service Unavailable"
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if answer else "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass  # a slow answer after the client gave up
