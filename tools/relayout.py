"""Re-point imports after modules move or split (the issue-16 re-layout; rerun on merged code).

    python tools/relayout.py FILE_OR_DIR...     rewrite imports and dotted strings in place
    python tools/relayout.py --fix-undefined    add imports for names a split left undefined

MOVES maps an old dotted module to its new home; SPLITS lists, for a module that was cut in
parts, every part: a name moves to the part that defines it at top level. Run
`ruff check --select I,F401 --fix` and `ruff format` afterwards.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MOVES: dict[str, str] = json.loads((ROOT / "tools" / "relayout.json").read_text())["moves"]
PACKAGE_MOVES = {"workflows.channels"}
SPLITS: dict[str, list[str]] = json.loads((ROOT / "tools" / "relayout.json").read_text())["splits"]
# Private helpers that became public when their module was split: old name -> new name.
RENAMES: dict[str, str] = json.loads((ROOT / "tools" / "relayout.json").read_text())["renames"]


def module_path(dotted: str) -> Path | None:
    base = ROOT / Path(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


_names_cache: dict[str, set[str]] = {}


def defined_names(dotted: str) -> set[str]:
    """Top-level names a module defines (functions, classes, assignments)."""
    if dotted not in _names_cache:
        path = module_path(dotted)
        names: set[str] = set()
        if path:
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    names.add(node.name)
                elif isinstance(node, ast.Assign):
                    for target in node.targets:
                        for leaf in ast.walk(target):
                            if isinstance(leaf, ast.Name):
                                names.add(leaf.id)
                elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    names.add(node.target.id)
        _names_cache[dotted] = names
    return _names_cache[dotted]


def moved(dotted: str) -> str:
    """Apply MOVES to a dotted module path. Only packages (workflows.channels) move with their
    submodules; an old module whose name is now a package's (workflows.supervision) maps exactly."""
    if dotted in MOVES:
        return MOVES[dotted]
    for old in sorted(MOVES, key=len, reverse=True):
        if dotted.startswith(old + ".") and old in PACKAGE_MOVES:
            if module_path(dotted.rpartition(".")[0]) or module_path(dotted):
                return dotted  # already new
            return MOVES[old] + dotted[len(old) :]
    return dotted


def part_for(split: str, name: str) -> str:
    for part in SPLITS[split]:
        if name in defined_names(part):
            return part
    return split


def _import_line(indent: str, module: str, names: list[tuple[str, str | None]]) -> str:
    rendered = ", ".join(f"{n} as {a}" if a and a != n else n for n, a in names)
    return f"{indent}from {module} import {rendered}"


def rewrite_source(source: str) -> str:
    source = rewrite_strings(source)
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    edits: list[tuple[int, int, str]] = []
    attr_renames: dict[str, dict[str, str]] = {}  # local module name -> {attr: new local}
    used_locals = set(re.findall(r"\b\w+\b", source))
    renamed_names: dict[str, str] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
            continue
        indent = " " * node.col_offset
        out: list[tuple[str, list[tuple[str, str | None]]]] = []
        base = moved(node.module)
        for alias in node.names:
            local = alias.asname or alias.name
            full = f"{node.module}.{alias.name}"
            path = module_path(full)
            was_module = full in MOVES and path is not None and path.name == "__init__.py"
            if was_module or not (path or full in SPLITS):
                full = moved(full)  # `from workflows import supervision`: the old module
            if module_path(full) or full in SPLITS:
                # a module object: `from workflows import services`
                parent, _, leaf = full.rpartition(".")
                if full in SPLITS:
                    renames: dict[str, str] = {}
                    parts_used: dict[str, str] = {}
                    for attr in set(re.findall(rf"(?<![\w.]){re.escape(local)}\.(\w+)", source)):
                        part = part_for(full, RENAMES.get(attr, attr))
                        if part == full:
                            continue
                        if part not in parts_used:
                            p_parent, _, p_leaf = part.rpartition(".")
                            new_local = p_leaf
                            if new_local in used_locals or new_local == local:
                                new_local = f"{p_parent.rpartition('.')[2]}_{p_leaf}"
                            used_locals.add(new_local)
                            parts_used[part] = new_local
                            out.append((p_parent, [(p_leaf, new_local)]))
                        renames[attr] = parts_used[part]
                        if attr in RENAMES:
                            renames[attr] = f"{parts_used[part]}.{RENAMES[attr]}"
                    attr_renames[local] = renames
                    if not module_path(full):  # the old module is gone: its first part
                        parent, _, leaf = SPLITS[full][0].rpartition(".")
                out.append((parent, [(leaf, local)]))
            elif base in SPLITS:
                name = (
                    RENAMES.get(alias.name, alias.name)
                    if base.startswith("workflows")
                    else alias.name
                )
                if name != alias.name and not alias.asname:
                    renamed_names[alias.name] = name
                out.append((part_for(base, name), [(name, alias.asname)]))
            else:
                out.append((base, [(alias.name, alias.asname)]))
        # merge by module, keep order
        merged: dict[str, list[tuple[str, str | None]]] = {}
        for module, names in out:
            merged.setdefault(module, []).extend(names)
        new = "\n".join(_import_line(indent, m, n) for m, n in merged.items()) + "\n"
        old = "".join(lines[node.lineno - 1 : node.end_lineno])
        unchanged = list(merged) == [node.module] and all(
            a == (alias.asname if alias.asname != alias.name else None) or a == alias.asname
            for (_n, a), alias in zip(merged[node.module], node.names, strict=True)
        )
        if not unchanged and old.strip() != new.strip():
            # keep anything after the statement on its last line (a trailing comment)
            tail = lines[node.end_lineno - 1]
            head = lines[node.lineno - 1]
            comment = ""
            if "#" in tail.split(")")[-1]:
                comment = "  #" + tail.split(")")[-1].split("#", 1)[1].rstrip("\n")
            elif "(" in head and "#" in head.split("(", 1)[1]:
                comment = "  #" + head.split("(", 1)[1].split("#", 1)[1].rstrip("\n")
            if comment:
                new = "".join(
                    line.rstrip("\n") + comment + "\n" for line in new.splitlines(keepends=True)
                )
            edits.append((node.lineno, node.end_lineno, new))
    for start, end, text in sorted(edits, reverse=True):
        lines[start - 1 : end] = [text]
    result = "".join(lines)
    for local, renames in attr_renames.items():
        for attr, new_local in renames.items():
            target = new_local if "." in new_local else f"{new_local}.{attr}"
            result = re.sub(rf"(?<![\w.]){re.escape(local)}\.{re.escape(attr)}\b", target, result)
    for old, new in renamed_names.items():
        result = re.sub(rf"(?<![\w.]){re.escape(old)}\b", new, result)
    return result


def rewrite_strings(text: str) -> str:
    """Dotted paths in strings, settings and docs: workflows.old[.Name] -> new."""

    def repl(match: re.Match[str]) -> str:
        dotted = match.group(0)
        path = module_path(dotted)
        if path and path.name == "__init__.py":
            return dotted  # a package now: new-style already
        new = moved(dotted)
        old_head, _, old_tail = dotted.rpartition(".")
        if new == dotted and old_head in MOVES and module_path(old_head) is None:
            new = f"{moved(old_head)}.{old_tail}"  # "workflows.views.PAGE_SIZE": a gone module
        head, _, tail = new.rpartition(".")
        if new in SPLITS:
            return new
        if head in SPLITS:
            return f"{part_for(head, tail)}.{tail}"
        return new

    return re.sub(r"\b(?:workflows|tasks)(?:\.\w+)+", repl, text)


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--fix-undefined":
        return fix_undefined()
    files: list[Path] = []
    for arg in argv:
        path = Path(arg)
        files.extend(sorted(path.rglob("*")) if path.is_dir() else [path])
    for path in files:
        if not path.is_file() or "migrations" in path.parts or ".venv" in path.parts:
            continue
        if path.suffix not in {
            ".py",
            ".toml",
            ".md",
            ".html",
            ".txt",
            ".yaml",
            ".yml",
            ".cfg",
        } and (path.name not in {"Makefile", "Dockerfile"}):
            continue
        text = path.read_text(encoding="utf-8")
        new = rewrite_source(text) if path.suffix == ".py" else rewrite_strings(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print("rewrote", path)
    return 0


def fix_undefined() -> int:
    """Add `from part import name` where a split left a name undefined (ruff F821)."""
    run = subprocess.run(  # noqa: S603
        [
            str(ROOT / ".venv/bin/ruff"),
            "check",
            "--select",
            "F821",
            "--output-format",
            "json",
            "workflows",
            "tasks",
            "project",
            "tests",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    found: dict[Path, set[str]] = {}
    for row in json.loads(run.stdout or "[]"):
        name = re.search(r"`(\w+)`", row["message"]).group(1)
        found.setdefault(Path(row["filename"]), set()).add(name)
    for path, names in found.items():
        rel = path.relative_to(ROOT).with_suffix("")
        dotted = ".".join(rel.parts)
        family = [s for s, parts in SPLITS.items() if dotted in parts]
        adds = []
        for name in sorted(names):
            for split in family:
                part = part_for(split, name)
                if part != dotted and name in defined_names(part):
                    adds.append(f"from {part} import {name}\n")
                    break
            else:
                print(f"{path.relative_to(ROOT)}: {name} still undefined")
        if adds:
            text = path.read_text(encoding="utf-8")
            tree = ast.parse(text)
            first = next(
                n
                for n in tree.body
                if not isinstance(n, ast.Expr)
                and not (isinstance(n, ast.ImportFrom) and n.module == "__future__")
            )
            lines = text.splitlines(keepends=True)
            lines[first.lineno - 1 : first.lineno - 1] = adds
            path.write_text("".join(lines), encoding="utf-8")
            print("added", len(adds), "imports to", path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
