"""The catalogue workbook's layout (台账), shared by its export and its import: the sheets, their
bilingual columns and what each cell holds.

`xlsx_export.catalogue_export` writes what the database holds; `xlsx_import.catalogue_load_workbook`
reads the same layout into the very structure the YAML loader builds and hands it to the same
checks and the same transaction (loader.py), so a bad workbook changes nothing and every
complaint names the sheet, the row and the column."""

from __future__ import annotations

from dataclasses import dataclass

from workflows.models import (
    StepKind,
)
from workflows.models.catalogue import Provenance

TEXT, KEY, KEYS, LINES, NUMBER = "text", "key", "keys", "lines", "number"


@dataclass(frozen=True)
class Column:
    key: str  # the YAML field it holds
    en: str
    zh: str
    width: int
    kind: str = TEXT
    choices: tuple[str, ...] = ()

    @property
    def header(self) -> str:
        return f"{self.en} / {self.zh}"


@dataclass(frozen=True)
class Sheet:
    title: str
    columns: tuple[Column, ...]


def _titles(width_en: int = 40, width_zh: int = 24) -> tuple[Column, Column]:
    return (
        Column("title_en", "Title (English)", "标题（英文）", width_en),
        Column("title_zh", "Title (Chinese)", "标题（中文）", width_zh),
    )


PROVENANCE = Column(
    "provenance", "Provenance", "来源", 14, choices=tuple(str(v) for v in Provenance.values)
)
ASPECTS = Sheet(
    "Aspects 方面",
    (
        Column("code", "Code", "编号", 8, KEY),
        *_titles(),
        Column("title_zh_status", "Chinese title status", "中文标题状态", 14),
        PROVENANCE,
    ),
)
MEASURES = Sheet(
    "Measures 举措",
    (
        Column("aspect", "Aspect", "所属方面", 8, KEY),
        Column("code", "Code", "编号", 8, KEY),
        *_titles(48, 30),
        Column("lead_department", "Lead department", "牵头部门", 22, KEY),
        Column("partner_departments", "Partner departments", "配合部门", 30, KEYS),
        Column("supervising_leader", "Supervising leader post", "分管领导岗位", 26, KEY),
        Column("applies_to_levels", "Applies to levels", "适用层级", 30, KEYS),
        Column("target_months", "Target (months)", "目标月数", 10, NUMBER),
        PROVENANCE,
        Column("summary_en", "Summary (English)", "摘要（英文）", 50),
        Column("actions", "Actions (one a line)", "具体举措（每行一项）", 60, LINES),
        Column("basis", "Source excerpt", "依据原文", 60),
    ),
)
STEPS = Sheet(
    "Steps 步骤",
    (
        Column("measure", "Measure", "所属举措", 8, KEY),
        Column("key", "Key", "键", 26, KEY),
        *_titles(36, 20),
        Column("kind", "Kind", "类型", 12, choices=tuple(str(v) for v in StepKind.values)),
        Column("role", "Step role", "步骤角色", 24, KEY),
        Column("working_days", "Working days", "工作日", 10, NUMBER),
    ),
)
DEPARTMENTS = Sheet(
    "Departments 部门",
    (
        Column("key", "Key", "键", 26, KEY),
        *_titles(44, 24),
        Column("name_check", "Name checked", "名称核实", 12),
    ),
)
LEADER_POSTS = Sheet(
    "Leader posts 领导岗位",
    (
        Column("key", "Key", "键", 30, KEY),
        *_titles(56, 36),
        Column("name", "Holder (placeholder)", "姓名（占位）", 18),
        Column("assignment", "Assignment", "分工依据", 14),
        Column("supervises", "Supervises departments", "分管部门", 36, KEYS),
        Column("reports_to", "Reports to", "上级岗位", 24, KEY),
    ),
)
STEP_ROLES = Sheet(
    "Step roles 步骤角色",
    (
        Column("key", "Key", "键", 30, KEY),
        *_titles(40, 24),
        Column("department", "Department", "部门", 24, KEY),
        Column("escalates_to", "Escalates to", "升级至", 30, KEY),
    ),
)
LEVELS = Sheet(
    "Levels 层级",
    (
        Column("key", "Key", "键", 20, KEY),
        *_titles(56, 36),
        Column("rank", "Rank", "级次", 8, NUMBER),
    ),
)
_NOTES = (
    Column("key", "Key", "键", 26, KEY),
    Column("value", "Value", "值", 90),
    Column("format", "Format", "格式", 10, KEY, choices=("text", "json")),
)
PLAN = Sheet("Plan 方案", _NOTES)
ORGANISATION = Sheet("Organisation 组织", _NOTES)
SHEETS = (
    ASPECTS,
    MEASURES,
    STEPS,
    DEPARTMENTS,
    LEADER_POSTS,
    STEP_ROLES,
    LEVELS,
    PLAN,
    ORGANISATION,
)
README = "Read me 说明"
_FIRST_META_KEYS = ("plan_title_en", "plan_title_zh", "plan_title_zh_status", "issuer", "issued_on")


@dataclass(frozen=True)
class Cell:
    """Where a value sits in the workbook; catalogue errors print it."""

    sheet: str | None
    row: int | None = None
    column: str | None = None
    letter: str | None = None

    def __str__(self) -> str:
        if self.sheet is None:
            return "the workbook"
        parts = [f"sheet '{self.sheet}'"]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.letter} ({self.column})")
        return ", ".join(parts)
