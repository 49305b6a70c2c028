"""Run pip-audit over the installed dependencies and judge its JSON report.

Fails on any known vulnerability not accepted in .pip-audit-ignore (one ID per line, then
`# why`). pip-audit asks PyPI's per-release JSON API (or OSV); where neither can be reached,
every package comes back "not audited": this says so loudly and, unless PIP_AUDIT_REQUIRED=1,
does not fail the build for the network's sake.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IGNORE_FILE = ROOT / ".pip-audit-ignore"


def accepted_ids() -> list[str]:
    if not IGNORE_FILE.exists():
        return []
    ids = []
    for line in IGNORE_FILE.read_text().splitlines():
        entry, _, why = line.partition("#")
        if entry.strip():
            if not why.strip():
                sys.exit(f"pip-audit: {entry.strip()} in {IGNORE_FILE.name} needs a '# why'")
            ids.append(entry.strip())
    return ids


def main() -> int:
    pip_audit = Path(sys.executable).with_name("pip-audit")
    service = os.environ.get("PIP_AUDIT_SERVICE", "pypi")
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "report.json"
        command = [
            str(pip_audit),
            "--progress-spinner=off",
            "--skip-editable",
            f"--vulnerability-service={service}",
            "--format=json",
            f"--output={report_path}",
        ]
        for vuln_id in accepted_ids():
            command.append(f"--ignore-vuln={vuln_id}")
        # Exit code 1 means "vulnerabilities found"; the report says which, so read it.
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)  # noqa: S603
        if not report_path.exists():
            print(result.stdout + result.stderr)
            print(f"pip-audit: no report (exit {result.returncode})")
            return 1
        report = json.loads(report_path.read_text())
    dependencies = report["dependencies"]
    audited = [d for d in dependencies if "skip_reason" not in d]
    vulnerable = [d for d in audited if d.get("vulns")]
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
            package = f"{dependency['name']} {dependency['version']}"
            print(f"pip-audit: {package}: {vuln['id']} ({fixes})")
    print(
        f"pip-audit ({service}): {len(audited)} of {len(dependencies)} packages audited, "
        f"{len(vulnerable)} with known vulnerabilities"
    )
    if vulnerable:
        return 1
    if not audited:
        print(
            "pip-audit: WARNING: the vulnerability service could not be reached from here; "
            "NOTHING WAS AUDITED. Run `make security` where PyPI's JSON API or OSV answers."
        )
        return 1 if os.environ.get("PIP_AUDIT_REQUIRED") == "1" else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
