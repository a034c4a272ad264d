"""CSV and Excel (.xlsx) exports of audit rows, with Chinese column headings auditors can read."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

FINDING_COLUMNS: Sequence[tuple[str, str]] = (
    ("finding_id", "问题编号"), ("rule", "规则"), ("rule_version", "规则版本"), ("severity", "严重程度"),
    ("title", "问题"), ("detail", "说明"), ("region_code", "区划代码"), ("project_id", "项目"),
    ("effective_on", "发生日期"), ("status", "状态"), ("first_seen", "首次发现"), ("params", "参数"),
    ("evidence", "证据事件"),
)
PROGRESS_COLUMNS: Sequence[tuple[str, str]] = (
    ("code", "项目编号"), ("name", "项目名称"), ("township_code", "乡镇(街道)代码"), ("on", "评价日期"),
    ("budget", "预算"), ("received", "到位资金"), ("disbursed", "已拨付"), ("spent", "已支出"),
    ("time_progress", "序时进度"), ("spending_progress", "支出进度"), ("status", "状态"),
)
ROLLUP_COLUMNS: Sequence[tuple[str, str]] = (
    ("code", "区划代码"), ("name", "名称"), ("level", "层级"), ("funds", "资金数"), ("funds_in", "下达资金"),
    ("held", "未分配余额"), ("projects", "项目数"), ("budget", "预算"), ("received", "到位资金"),
    ("committed", "合同承诺"), ("disbursed", "已拨付"), ("spent", "已支出"), ("reversed", "已冲销"),
    ("open_findings", "未结问题"),
)

COVERAGE_COLUMNS: Sequence[tuple[str, str]] = (
    ("code", "区划代码"), ("name", "名称"), ("level", "层级"), ("on", "评价日期"), ("township_units", "乡级单位数"),
    ("operating", "运营社工站"), ("coverage", "覆盖率"), ("behind_plan", "落后于计划"), ("denominator", "统计口径"),
)


def _cell(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _text(value: Any) -> str:
    value = _cell(value)
    text = "" if value is None else str(value)
    # A cell starting with = + - @ would run as a formula in a spreadsheet: keep it text (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def to_csv(rows: Iterable[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([heading for _, heading in columns])
    for row in rows:
        writer.writerow([_text(row.get(name)) for name, _ in columns])
    return "\ufeff" + buffer.getvalue()  # a byte-order mark so Excel opens UTF-8 Chinese text correctly


def to_xlsx(rows: Iterable[dict[str, Any]], columns: Sequence[tuple[str, str]], title: str) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title[:31]
    sheet.append([heading for _, heading in columns])
    for row in rows:
        values = []
        for name, _ in columns:
            value = row.get(name)
            values.append(value if isinstance(value, Decimal) else _text(value))  # amounts stay exact numbers
        sheet.append(values)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, (Decimal, float)):
                cell.number_format = "#,##0.00"
    for index, (_, heading) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(10, len(heading) * 2 + 4)
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
