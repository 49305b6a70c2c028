"""Measure the project's import graph: modules, cycles (function-level imports included), sizes.

Usage: python tools/imports.py [--top N]. Reads source with ast, imports nothing, so it sees
imports inside functions too. tests/test_layout.py uses `graph()` and `cycles()`.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("workflows", "tasks", "project")
GENERATED = ("migrations",)


def module_files() -> dict[str, Path]:
    """Map every hand-written module's dotted name to its file."""
    found: dict[str, Path] = {}
    for top in PACKAGES:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if any(part in GENERATED for part in rel.parts):
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The longest known module that `name` is or lies inside."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def graph() -> dict[str, set[str]]:
    """Each module's project imports, at any depth of the file (functions included)."""
    known = module_files()
    edges: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".")
                    base = base if is_package else base[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                targets = [f"{prefix}.{alias.name}" for alias in node.names] + [prefix]
            for target in targets:
                hit = _resolve(target, known)
                if hit and hit != name:
                    edges[name].add(hit)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    item = stack.pop()
                    on_stack.discard(item)
                    component.append(item)
                    if item == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def package_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Cycles only through an `__init__` re-export are real too; reported by cycles() as well."""
    return cycles(edges)


def sizes() -> list[tuple[int, str]]:
    """(lines, module) for every hand-written module, largest first."""
    rows = [
        (len(path.read_text(encoding="utf-8").splitlines()), name)
        for name, path in module_files().items()
    ]
    return sorted(rows, reverse=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args(argv)
    edges = graph()
    found = cycles(edges)
    in_cycles = sorted({m for component in found for m in component})
    print(f"modules: {len(edges)}")
    print(f"modules in cycles: {len(in_cycles)} in {len(found)} cycle(s)")
    for component in found:
        print("  cycle: " + ", ".join(component))
    print("largest modules:")
    for lines, name in sizes()[: args.top]:
        print(f"  {lines:5d}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
