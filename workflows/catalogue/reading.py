"""Reading the catalogue's YAML: every mapping, list and value keeps the line it came from, so
every error names its file and line (CatalogueError), and values are checked against the
columns they will fill.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from django.db import models

_SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")


class CatalogueError(Exception):
    """A catalogue file that cannot be loaded; `file`, `line` (1-based) and `field` locate it.

    In a workbook `line` is a cell (catalogue_xlsx.Cell), which names its sheet, row and column.
    """

    def __init__(
        self, message: str, *, file: Path, line: int | None = None, field: str | None = None
    ) -> None:
        self.message = message
        self.file = Path(file)
        self.line = line
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.line is not None and not isinstance(self.line, int):
            return f"{self.file.name}: {self.line}: {self.message}"
        where = self.file.name if self.line is None else f"{self.file.name} line {self.line}"
        what = f"{self.field}: {self.message}" if self.field else self.message
        return f"{where}: {what}"


def _where(line: Any) -> str:
    """ "line N" in a YAML file; a workbook cell describes itself."""
    return f"line {line}" if isinstance(line, int) else str(line)


class LineMapping(dict[Any, Any]):
    """A YAML mapping that remembers the line it starts on and the line of each key."""

    line: int = 0
    key_lines: dict[Any, int]


class LineSequence(list[Any]):
    """A YAML sequence that remembers the line it starts on and the line of each item."""

    line: int = 0
    item_lines: list[int]


class LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences carry 1-based line numbers."""

    def construct_located_mapping(self, node: yaml.MappingNode) -> Iterator[LineMapping]:
        data = LineMapping()
        data.line = node.start_mark.line + 1
        data.key_lines = {}
        yield data
        # PyYAML keeps the last of two equal keys silently; in a catalogue that hides a typo.
        seen: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                ident = (key_node.tag, key_node.value)
                if ident in seen:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"duplicate key '{key_node.value}' (first at line {seen[ident]})",
                        key_node.start_mark,
                    )
                seen[ident] = key_node.start_mark.line + 1
        data.update(self.construct_mapping(node))
        for key_node, _ in node.value:
            data.key_lines[self.construct_object(key_node)] = key_node.start_mark.line + 1

    def construct_located_sequence(self, node: yaml.SequenceNode) -> Iterator[LineSequence]:
        data = LineSequence()
        data.line = node.start_mark.line + 1
        data.item_lines = [item.start_mark.line + 1 for item in node.value]
        yield data
        data.extend(self.construct_sequence(node))


def read_yaml(path: Path) -> tuple[LineMapping, str]:
    """The file's top-level mapping and the sha256 of its bytes."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogueError(f"cannot read {path} ({exc.strerror})", file=path) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogueError("the file is not UTF-8 text", file=path) from exc
    loader = LineLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            problem = f"{exc.problem} ({exc.context})"
        line = mark.line + 1 if mark is not None else None
        raise CatalogueError(f"invalid YAML: {problem}", file=path, line=line) from exc
    except yaml.YAMLError as exc:
        raise CatalogueError(f"invalid YAML: {exc}", file=path) from exc
    finally:
        loader.dispose()
    if not isinstance(data, LineMapping):
        raise CatalogueError(
            "the file must hold a YAML mapping at the top level", file=path, line=1
        )
    return data, hashlib.sha256(raw).hexdigest()


def plain_value(value: Any) -> Any:
    """A JSON-ready copy, so a stored meta compares equal to the file's on the next load."""
    if isinstance(value, dict):
        return {str(key): plain_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_value(item) for item in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def field_limit(model: type[models.Model], name: str) -> int:
    return int(getattr(model._meta.get_field(name), "max_length", 0) or 0)


@dataclass(frozen=True)
class _Ref:
    """A key that must name something defined elsewhere, with where it was written."""

    key: str
    file: Path
    line: int
    field: str

    def check(self, known: Iterable[str], what: str) -> None:
        if self.key not in known:
            raise CatalogueError(
                f"unknown {what} '{self.key}'", file=self.file, line=self.line, field=self.field
            )


@dataclass(frozen=True)
class _Item:
    """One mapping of a catalogue file and its path (`aspects[1].measures[0]`)."""

    file: Path
    data: LineMapping
    path: str

    @property
    def line(self) -> int:
        return self.data.line

    def field_path(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def line_of(self, name: str) -> int:
        return self.data.key_lines.get(name, self.data.line)

    def error(self, message: str, name: str, *, line: int | None = None) -> CatalogueError:
        return CatalogueError(
            message, file=self.file, line=line or self.line_of(name), field=self.field_path(name)
        )

    def allow(self, *names: str) -> None:
        for key in self.data:
            if key not in names:
                raise self.error(f"unknown field (expected one of: {', '.join(names)})", str(key))

    def _value(self, name: str, required: bool) -> Any:
        if name not in self.data:
            if required:
                raise self.error("required field is missing", name, line=self.line)
            return None
        value = self.data[name]
        if value is None and required:
            raise self.error("required field is empty", name)
        return value

    def text(self, name: str, *, max_length: int | None = None, required: bool = False) -> str:
        value = self._value(name, required)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.error(f"must be text, not {value!r}", name)
        if required and not value.strip():
            raise self.error("required field is empty", name)
        if max_length and len(value) > max_length:
            raise self.error(f"is {len(value)} characters long; the limit is {max_length}", name)
        return value

    def slug(self, name: str, *, max_length: int, required: bool = False) -> str:
        value = self.text(name, max_length=max_length, required=required)
        if value and not _SLUG.match(value):
            raise self.error(f"must be a key of letters, digits, '-' or '_', not {value!r}", name)
        return value

    def positive_int(self, name: str) -> int:
        value = self._value(name, required=True)
        # bool is an int in Python; `yes` in YAML is not a number of days.
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 32767:
            raise self.error(f"must be a positive whole number, not {value!r}", name)
        return value

    def choice(self, name: str, choices: Iterable[str]) -> str:
        allowed = list(choices)
        value = self._value(name, required=True)
        if value not in allowed:
            raise self.error(f"must be one of {', '.join(allowed)}, not {value!r}", name)
        return str(value)

    def iso_date(self, name: str) -> date | None:
        value = self._value(name, required=False)
        if value is None or isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise self.error(f"must be a date (YYYY-MM-DD), not {value!r}", name) from None

    def mapping(self, name: str, *, required: bool = False) -> _Item:
        value = self._value(name, required)
        if value is None:
            value = LineMapping()
            value.line, value.key_lines = self.line, {}
        if not isinstance(value, LineMapping):
            raise self.error("must be a mapping", name)
        return _Item(self.file, value, self.field_path(name))

    def _sequence(self, name: str, *, required: bool) -> LineSequence:
        value = self._value(name, required)
        if value is None:
            return LineSequence()
        if not isinstance(value, LineSequence):
            raise self.error("must be a list", name)
        return value

    def items(self, name: str, *, required: bool = True) -> list[_Item]:
        items = []
        sequence = self._sequence(name, required=required)
        for index, value in enumerate(sequence):
            path = f"{self.field_path(name)}[{index}]"
            if not isinstance(value, LineMapping):
                raise CatalogueError(
                    "must be a mapping", file=self.file, line=sequence.item_lines[index], field=path
                )
            items.append(_Item(self.file, value, path))
        return items

    def text_list(self, name: str) -> list[str]:
        sequence = self._sequence(name, required=False)
        for index, value in enumerate(sequence):
            if not isinstance(value, str):
                raise self.error(
                    f"must be text, not {value!r}",
                    f"{name}[{index}]",
                    line=sequence.item_lines[index],
                )
        return list(sequence)

    def ref(self, name: str, *, required: bool = True) -> _Ref | None:
        value = self._value(name, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(f"must be a key, not {value!r}", name)
        return _Ref(value, self.file, self.line_of(name), self.field_path(name))

    def ref_list(self, name: str) -> list[_Ref]:
        sequence = self._sequence(name, required=False)
        refs = []
        for index, value in enumerate(sequence):
            path = f"{self.field_path(name)}[{index}]"
            line = sequence.item_lines[index]
            if not isinstance(value, str):
                raise CatalogueError(
                    f"must be a key, not {value!r}", file=self.file, line=line, field=path
                )
            refs.append(_Ref(value, self.file, line, path))
        return refs


def ensure_unique(specs: Iterable[Any], attr: str, what: str) -> None:
    first: dict[Any, _Item] = {}
    for spec in specs:
        value = getattr(spec, attr)
        if value in first:
            earlier = first[value].line_of(attr)
            raise spec.item.error(f"duplicate {what} '{value}' (first at {_where(earlier)})", attr)
        first[value] = spec.item
