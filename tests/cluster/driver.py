"""The load: API clients on both web hosts (token auth) driving cases through their steps,
reporting progress, requesting reports and reading the dashboard, for a bounded time.

The driver keeps a ledger of what it knows happened: every request that got an answer, and
every request whose answer was lost (a host cut mid-request) once it has been reconciled by
reading the outcome back. At the end the database must hold exactly the ledger.
"""

import http.client
import itertools
import json
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

REQUEST_TIMEOUT = 8.0
# A host that failed a request is skipped for this long, as a load balancer's check would.
HOST_PAUSE = 8.0


class Lost(Exception):
    """The request may or may not have been applied: no answer (timeout, reset) or a 5xx."""


@dataclass
class Answer:
    status: int
    body: object
    host: str


class Balancer:
    """Round robin over the web hosts that have not just failed."""

    def __init__(self, hosts: dict[str, str], port: int):
        self.hosts, self.port = hosts, port
        self.lock = threading.Lock()
        self.cycle = itertools.cycle(sorted(hosts))
        self.paused_until: dict[str, float] = {}
        self.sent = Counter()
        self.answered = Counter()
        self.lost = Counter()
        self.writes_in_flight = Counter()

    def pick(self, avoid: str = "") -> str:
        with self.lock:
            now = time.monotonic()
            for _ in range(len(self.hosts) * 2):
                name = next(self.cycle)
                if name != avoid and self.paused_until.get(name, 0) <= now:
                    return name
            return next(self.cycle)

    def request(self, method: str, path: str, token: str, body=None, *, avoid: str = "") -> Answer:
        name = self.pick(avoid)
        headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        connection = http.client.HTTPConnection(
            self.hosts[name], self.port, timeout=REQUEST_TIMEOUT
        )
        self.sent[name] += 1
        writing = method != "GET"
        with self.lock:
            self.writes_in_flight[name] += writing
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            with self.lock:
                self.paused_until[name] = time.monotonic() + HOST_PAUSE
            self.lost[name] += 1
            raise Lost(f"{method} {path} on {name}: {type(exc).__name__}") from exc
        finally:
            connection.close()
            with self.lock:
                self.writes_in_flight[name] -= writing
        self.answered[name] += 1
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw[:200]
        if response.status >= 500:
            raise Lost(f"{method} {path} on {name}: HTTP {response.status}")
        return Answer(response.status, data, name)


@dataclass
class Pending:
    """A write whose answer was lost: what it was, to read its outcome back later."""

    kind: str  # "action", "progress" or "report"
    task: int = 0
    step: str = ""
    outcome: str = ""
    percent: int = 0
    note: str = ""
    scope: str = ""


@dataclass
class CaseRecord:
    id: int
    measure: str
    events: list = field(default_factory=list)  # (task id, step, outcome), in order
    progress: list = field(default_factory=list)  # (task id, percent, note), in order
    parked: Pending | None = None
    finished: bool = False
    returned: bool = False


class Ledger:
    def __init__(self):
        self.lock = threading.Lock()
        self.cases: dict[int, CaseRecord] = {}
        self.reports: list[int] = []  # programme reports the driver knows it requested
        self.parked_reports: list[Pending] = []
        self.refused = Counter()  # definite 4xx answers to writes (should stay empty)
        self.lost_in_flight = 0
        self.reconciled = Counter()
        self.writes = 0
        self.reads = 0


class Driver:
    def __init__(self, balancer: Balancer, tokens: dict[str, str], ledger: Ledger, *, seed: int):
        self.web, self.tokens, self.ledger = balancer, tokens, ledger
        self.random = random.Random(seed)
        self.stop = threading.Event()

    # ------------------------------------------------------------------ requests

    def get(self, path: str, user: str) -> Answer:
        answer = self.web.request("GET", path, self.tokens[user])
        self.ledger.reads += 1
        return answer

    def post(self, path: str, user: str, body: dict) -> Answer:
        answer = self.web.request("POST", path, self.tokens[user], body)
        self.ledger.writes += 1
        return answer

    # ------------------------------------------------------------------ cases

    def launch(self, measure: str) -> CaseRecord | None:
        """Launch is idempotent (an open case is returned): a lost answer is simply asked again."""
        for _attempt in range(4):
            try:
                answer = self.post("/api/v1/cases/", "coordinator.office", {"measure": measure})
            except Lost:
                continue
            if answer.status in (200, 201):
                record = CaseRecord(answer.body["id"], measure)
                with self.ledger.lock:
                    self.ledger.cases[record.id] = record
                return record
            self.ledger.refused[f"launch {answer.status}"] += 1
            return None
        return None

    def advance(self, record: CaseRecord) -> None:
        """Do the case's next step as the person it is routed to (one write)."""
        try:
            detail = self.get(f"/api/v1/cases/{record.id}/", "coordinator.office").body
            open_tasks = [t for t in detail["tasks"] if t["status"] == "open"]
            if not open_tasks:
                record.finished = detail["status"] == "done"
                return
            task = open_tasks[0]
            info = self.get(f"/api/v1/tasks/{task['id']}/", "coordinator.office").body
        except Lost:
            return  # a read: nothing to reconcile, try again next round
        actor = info["assignee"] or (info["candidates"] or [None])[0]
        if actor is None or actor not in self.tokens:
            record.finished = True  # nobody holds the role: the case waits for an admin
            return
        kind, step = task["kind"], task["step"]
        if kind == "implement":
            done = sum(1 for t, _p, _n in record.progress if t == task["id"])
            if done < 2:
                percent, note = 30 * (done + 1), f"cluster progress {uuid.uuid4().hex}"
                pending = Pending("progress", task=task["id"], percent=percent, note=note)
                body = {"percent": percent, "note": note}
                self._write(record, pending, f"/api/v1/tasks/{task['id']}/progress", actor, body)
                return
        if kind in ("submit", "implement"):
            outcome = "submitted" if kind == "submit" else "completed"
            action, body = "complete", {"note": f"{step} done by the cluster test."}
        elif (
            kind == "approve"
            and step == "head_approval"
            and not record.returned
            and (self.random.random() < 0.3)
        ):
            outcome, action, body = "returned", "return", {"reason": "Add the budget, please."}
            record.returned = True
        else:
            outcome, action, body = "approved", "approve", {"comment": "Agreed."}
        pending = Pending("action", task=task["id"], step=step, outcome=outcome)
        self._write(record, pending, f"/api/v1/tasks/{task['id']}/{action}", actor, body)

    def _write(self, record: CaseRecord, pending: Pending, path: str, actor: str, body: dict):
        try:
            answer = self.post(path, actor, body)
        except Lost:
            # Applied or not, we cannot tell yet: the case waits until the cut host is back and
            # its requests have finished, then the outcome is read back (reconcile()).
            record.parked = pending
            with self.ledger.lock:
                self.ledger.lost_in_flight += 1
            return
        if answer.status != 200:
            with self.ledger.lock:
                self.ledger.refused[f"{pending.kind} {answer.status}"] += 1
            return
        self._record(record, pending, answer.body)

    def _record(self, record: CaseRecord, pending: Pending, body: dict) -> None:
        if pending.kind == "progress":
            record.progress.append((pending.task, pending.percent, pending.note))
        else:
            assert body["outcome"] == pending.outcome, (body, pending)
            record.events.append((pending.task, pending.step, pending.outcome))

    def run_cases(self, records: list[CaseRecord], deadline: float) -> None:
        while time.monotonic() < deadline and not self.stop.is_set():
            active = [r for r in records if not r.finished and r.parked is None]
            if not active:
                break
            for record in active:
                if time.monotonic() >= deadline or self.stop.is_set():
                    break
                self.advance(record)

    # ------------------------------------------------------------------ reports and reads

    def request_report(self, aspect: str) -> None:
        body = {"kind": "programme", "aspect": aspect}
        try:
            answer = self.post("/api/v1/reports/", "coordinator.office", body)
        except Lost:
            with self.ledger.lock:
                self.ledger.parked_reports.append(Pending("report", scope=aspect))
                self.ledger.lost_in_flight += 1
            return
        if answer.status == 202:
            with self.ledger.lock:
                self.ledger.reports.append(answer.body["id"])
        else:
            self.ledger.refused[f"report {answer.status}"] += 1

    def run_reports(self, aspects: list[str], deadline: float, every: float) -> None:
        for aspect in itertools.cycle(aspects):
            if time.monotonic() >= deadline or self.stop.wait(every):
                return
            self.request_report(aspect)

    def run_reads(self, deadline: float) -> None:
        """What auditors and leaders do all morning: the programme and the audit search."""
        paths = [
            "/api/v1/measures/",
            "/api/v1/measures/?level=provincial",
            "/api/v1/audit/?verb=approved&limit=20",
        ]
        for path in itertools.cycle(paths):
            if time.monotonic() >= deadline or self.stop.wait(0.2):
                return
            try:
                self.get(path, "auditor")
            except Lost:
                pass

    # ------------------------------------------------------------------ reconciliation

    def reconcile(self) -> None:
        """Read back the outcome of every write whose answer was lost."""
        for record in self.ledger.cases.values():
            pending = record.parked
            if pending is None:
                continue
            if pending.kind == "progress":
                detail = self._read(f"/api/v1/cases/{record.id}/")
                applied = any(p["note"] == pending.note for p in detail["progress"])
                if applied:
                    record.progress.append((pending.task, pending.percent, pending.note))
            else:
                task = self._read(f"/api/v1/tasks/{pending.task}/")
                applied = task["status"] != "open"
                if applied:
                    assert task["outcome"] == pending.outcome, (task, pending)
                    record.events.append((pending.task, pending.step, pending.outcome))
            self.ledger.reconciled["applied" if applied else "not applied"] += 1
            record.parked = None
        for pending in self.ledger.parked_reports:
            # The scope's versions the driver did not see an answer for are the lost ones.
            listed = self._read(f"/api/v1/reports/?kind=programme&aspect={pending.scope}&limit=200")
            unknown = [r["id"] for r in listed["results"] if r["id"] not in self.ledger.reports]
            self.ledger.reports.extend(unknown)
            self.ledger.reconciled["applied" if unknown else "not applied"] += 1
        self.ledger.parked_reports.clear()

    def _read(self, path: str):
        for _attempt in range(5):
            try:
                return self.get(path, "coordinator.office").body
            except Lost:
                time.sleep(1)
        raise RuntimeError(f"could not read {path} from any web host")
