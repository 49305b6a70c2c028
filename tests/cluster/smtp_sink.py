"""An SMTP receiver for the cluster test: accepts every message and appends one JSON line per
message to a file (time, recipients, Message-ID, Reformflow's headers, the report a "ready"
mail names), so the test can count what arrived, and what arrived twice.

    python smtp_sink.py HOST PORT OUTFILE
"""

import email
import email.policy
import json
import re
import signal
import sys
import threading
import time

from aiosmtpd.controller import Controller

REPORT_URL = re.compile(r"/reports/(\d+)/download")


class Sink:
    def __init__(self, path: str):
        self.path = path
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        report = REPORT_URL.search(text)
        record = {
            "at": time.time(),
            "to": list(envelope.rcpt_tos),
            "message_id": message["Message-ID"],
            "notification": message["X-Reformflow-Notification"],
            "kind": message["X-Reformflow-Kind"],
            "report": int(report.group(1)) if report else None,
            "subject": str(message["Subject"]),
        }
        with self.lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
        return "250 OK"


def main() -> None:
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    controller = Controller(Sink(path), hostname=host, port=port)
    controller.start()
    print(f"smtp sink listening on {host}:{port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
