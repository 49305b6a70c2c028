"""Test hosts: one network namespace each, joined by veth pairs to a private bridge.

Every name this module creates starts with PREFIX, so a run can always find and remove what
an earlier run left behind (killed mid-way); nothing else on the machine is touched. The
hosts have no default route: they reach each other and the bridge's address, nothing else.
"""

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "rf21"
BRIDGE = f"{PREFIX}br0"
SUBNET = "10.231.0"
BRIDGE_ADDRESS = f"{SUBNET}.1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


@dataclass
class Host:
    """A namespace with one address; processes started in it are tracked by name."""

    name: str
    address: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        return f"{PREFIX}-{self.name}"

    @property
    def link(self) -> str:
        # The bridge side of the veth pair (at most 15 characters).
        return f"{PREFIX}v-{self.name}"[:15]

    def create(self) -> None:
        ip("netns", "add", self.namespace)
        ip("-n", self.namespace, "link", "set", "lo", "up")
        peer = ("peer", "name", "eth0", "netns", self.namespace)
        ip("link", "add", self.link, "type", "veth", *peer)
        ip("link", "set", self.link, "master", BRIDGE)
        ip("link", "set", self.link, "up")
        ip("-n", self.namespace, "addr", "add", f"{self.address}/24", "dev", "eth0")
        ip("-n", self.namespace, "link", "set", "eth0", "up")

    def link_down(self) -> None:
        ip("link", "set", self.link, "down")

    def link_up(self) -> None:
        ip("link", "set", self.link, "up")

    def start(
        self,
        label: str,
        argv: list[str],
        *,
        log: Path,
        env: dict,
        user: str = "",
        cwd: Path | None = None,
    ) -> subprocess.Popen:
        """Start a process inside this host; its output goes to `log`."""
        prefix = ["ip", "netns", "exec", self.namespace]
        if user:
            prefix += ["runuser", "-u", user, "--"]
        process = subprocess.Popen(
            prefix + argv,
            env=env,
            cwd=cwd,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[label] = process
        return process

    def pids(self) -> list[int]:
        result = ip("netns", "pids", self.namespace, check=False)
        return [int(pid) for pid in result.stdout.split()]

    def kill_all(self, sig: int = signal.SIGKILL, *, timeout: float = 10) -> int:
        """Kill every process in this host (the host dies); returns how many there were."""
        killed = set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, sig)
                    killed.add(pid)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        for process in self.processes.values():
            try:
                process.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        return len(killed)

    def stop(self, label: str, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        """Stop one process (and its children) politely, then by force."""
        process = self.processes.get(label)
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=timeout)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def cpu_seconds(self, match: str = "") -> float:
        """User + system CPU of the live processes in this host (whose command line contains
        `match`), children reaped by them included."""
        total = 0.0
        for pid in self.pids():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if match and match not in cmdline:
                continue
            # utime, stime, cutime, cstime: fields 14-17 of stat (here after the command name).
            total += sum(int(value) for value in fields[11:15]) / CLOCK_TICKS
        return total


def bridge_create() -> None:
    ip("link", "add", BRIDGE, "type", "bridge")
    ip("addr", "add", f"{BRIDGE_ADDRESS}/24", "dev", BRIDGE)
    ip("link", "set", BRIDGE, "up")


def leftovers() -> tuple[list[str], list[str]]:
    """Namespaces and links with our prefix (from this run or an earlier one)."""
    namespaces = [
        line.split()[0]
        for line in ip("netns", "list", check=False).stdout.splitlines()
        if line.startswith(f"{PREFIX}-")
    ]
    links = []
    for line in ip("-o", "link", "show", check=False).stdout.splitlines():
        name = line.split(":", 2)[1].strip().split("@")[0]
        if name.startswith(PREFIX):
            links.append(name)
    return namespaces, links


def clean_up() -> list[str]:
    """Kill every process in our namespaces, delete them, their links and the bridge; returns
    what was removed. Safe to call any number of times."""
    removed = []
    namespaces, _links = leftovers()
    for namespace in namespaces:
        host = Host(namespace.removeprefix(f"{PREFIX}-"), "")
        host.kill_all()
        ip("netns", "del", namespace, check=False)
        removed.append(namespace)
    _namespaces, links = leftovers()
    # Veth ends first (deleting one deletes its peer), the bridge last.
    for link in sorted(links, key=lambda name: name == BRIDGE):
        ip("link", "del", link, check=False)
        removed.append(link)
    return removed
