"""The words of the intake: rule names in Chinese and English, the report appendix's table of quality counts, what
``surveykit validate`` and ``surveykit map`` print, and the one-line refusal of ``surveykit score``.

Everything here turns results of :mod:`surveykit.quality` and :mod:`surveykit.mapping` into text; nothing here
decides anything. Counts only in what reports show: no row-level data, no respondent ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import pandas as pd

if TYPE_CHECKING:  # types only: this module is imported by surveykit.quality
    from ..io.provenance import Provenance
    from ..mapping import ColumnMap, Roles, ValueMap
    from ..quality import Prepared
    from ..spec.questionnaire import Questionnaire

RULE_LABELS: dict[str, tuple[str, str]] = {
    "empty_row": ("空行", "Empty row"),
    "no_answers": ("未回答任何题目", "No item answered"),
    "unknown_group": ("受访者类别无法识别", "Unknown or blank group"),
    "unknown_unit": ("区名无法识别", "Unknown unit"),
    "not_a_number": ("答案不是代码", "Text where an answer code belongs"),
    "out_of_scale": ("答案超出量表", "Answer outside the scale"),
    "formula": ("Excel公式单元格", "Excel formula cell"),
    "whitespace": ("多余空格(已去除)", "Surrounding blanks (trimmed)"),
    "full_width": ("全角字符(已转换)", "Full-width characters (converted)"),
    "missing_id": ("缺少受访者编号", "Blank respondent id"),
    "duplicate_identical": ("重复提交(答案相同)", "Duplicate id, identical answers"),
    "duplicate_conflicting": ("重复编号(答案不同)", "Duplicate id, conflicting answers"),
    "not_asked": ("回答了不适用的题目", "Answer to an item not asked of the group"),
    "straight_lining": ("连续相同答案", "Straight-lining"),
    "speeder": ("答题过快", "Speeder"),
    "bad_duration": ("答题时长无法识别", "Unreadable duration"),
    "dont_know": ("“不了解”过多", "Too many don't-know answers"),
}
ACTION_LABELS = {"exclude": ("剔除", "excluded"), "flag": ("标记", "flagged"), "fix": ("修正", "fixed")}


def rule_label(rule: str, lang: str = "en") -> str:
    zh, en = RULE_LABELS[rule]
    return zh if lang == "zh" else en


# --- the report appendix ----------------------------------------------------------------------------------------
def appendix_table(counts: pd.DataFrame, q: "Questionnaire", lang: str = "zh") -> pd.DataFrame:
    """Counts of :meth:`~surveykit.quality.Prepared.counts` as a display table: one row per rule and action, one
    column per group (labels in ``lang``) and a total. Aggregates only -- no row-level data."""
    if counts.empty:
        return pd.DataFrame()
    zh = lang == "zh"
    unknown = "未识别" if zh else "unknown"
    t = counts.copy()
    t["rule"] = t["rule"].map(lambda r: rule_label(r, lang))
    t["action"] = t["action"].map(lambda a: ACTION_LABELS[a][0 if zh else 1])
    t["group"] = t["group"].map(lambda gid: q.group_label(gid, lang) if gid in q.group_ids else unknown)
    order = [q.group_label(g, lang) for g in q.group_ids] + [unknown]
    wide = t.pivot_table(index=["rule", "action"], columns="group", values="rows", aggfunc="sum", fill_value=0,
                         sort=False)
    wide = wide[[g for g in order if g in wide.columns]]
    wide["合计" if zh else "Total"] = wide.sum(axis=1)
    wide = wide.reset_index()
    wide.columns.name = None
    return wide.rename(columns={"rule": "规则" if zh else "Rule", "action": "处理" if zh else "Action"})


# --- `surveykit validate` and `surveykit score` ------------------------------------------------------------------
def where_read(prov: "Provenance", *, delimiter: bool = False) -> str:
    """``sheet 'S', header rows 1-2, encoding gbk`` (and the delimiter when asked): how a file was read."""
    where = []
    if prov.sheet:
        where.append(f"sheet '{prov.sheet}'")
    hr = prov.header_rows
    if hr:
        where.append(f"header row{'s' if len(hr) > 1 else ''} {hr[0]}{'-' + str(hr[-1]) if len(hr) > 1 else ''}")
    if prov.encoding and prov.encoding != "xlsx":
        where.append(f"encoding {prov.encoding}")
    if delimiter and prov.delimiter:
        names = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "bar"}
        where.append("delimiter " + names.get(prov.delimiter, prov.delimiter))
    return ", ".join(where)


def summary_text(p: "Prepared") -> str:
    """What ``surveykit validate`` prints: rows read, kept, excluded, flagged, fixed, and rows by rule."""
    where = where_read(p.provenance)
    lines = [f"{p.source}" + (f" ({where})" if where else "")]
    w = len(f"{p.rows_read:,}")
    lines.append(f"  rows read      {p.rows_read:>{w},}")
    lines.append(f"  rows kept      {p.rows_kept:>{w},}")
    lines.append(f"  rows excluded  {p.rows_excluded:>{w},}")
    lines.append(f"  rows flagged   {p.rows_flagged:>{w},}  (kept; listed in the log)")
    if p.rows_fixed:
        lines.append(f"  rows fixed     {p.rows_fixed:>{w},}  (values corrected; listed in the log)")
    if not p.log.empty:
        t = p.rows_by_rule()
        rw = max(len(x) for x in t["rule"])
        lw = max(len(rule_label(x)) for x in t["rule"])
        nw = max(w, 4)
        lines.append(f"  by rule:{'':<{rw + lw - 2}}action   {'rows':>{nw}}")
        for r in t.itertuples():
            lines.append(f"    {r.rule:<{rw}}  {rule_label(r.rule):<{lw}}  {r.action:<7}  {r.rows:>{nw},}")
    else:
        lines.append("  no problems found")
    for n in p.notes:
        lines.append(f"  note: {n}")
    return "\n".join(lines)


def finding_text(rule: str, value: str) -> str:
    """One finding of the log in words (the start of ``surveykit score``'s refusal)."""
    if rule == "not_a_number":
        return f"'{value}' is not an answer code"
    if rule == "out_of_scale":
        return f"answer {value} is outside the scale"
    if rule == "unknown_group":
        return "blank group" if value == "" else f"unknown group '{value}'"
    if rule == "unknown_unit":
        return "blank unit" if value == "" else f"unknown unit '{value}'"
    if rule == "empty_row":
        return "empty row"
    if rule == "no_answers":
        return "no item answered"
    return rule_label(rule).lower() + (f": {value}" if value else "")


# --- `surveykit map` --------------------------------------------------------------------------------------------
def mapping_text(q: "Questionnaire", prov: "Provenance", shape: tuple[int, int], cmap: "ColumnMap",
                 values: Sequence["ValueMap"], *, roles: "Roles", notes: Sequence[str] = (),
                 max_values: int = 12) -> str:
    """The text printed by ``surveykit map``: columns matched, values mapped, what is missing or left alone.
    ``shape``: rows and columns as read."""
    where = where_read(prov, delimiter=True)
    lines = [f"{prov.source}: {shape[0]} data rows, {shape[1]} columns" + (f" ({where})" if where else "")]
    item_ids = {i.id for i in q.items}
    matched_items = [m for m in cmap.matches if m.target in item_ids]
    lines += ["", f"Columns matched ({len(matched_items)} of {len(q.items)} items; "
                  f"{len(cmap.matches) - len(matched_items)} other):"]
    width = max([len(m.target) for m in cmap.matches] + [6])
    for m in cmap.matches:
        extra = f"; {m.detail}" if m.detail else ""
        lines.append(f"  {m.target:<{width}} <- '{m.column}'  [{m.how}{extra}]")
    lines += _values_text(values, item_ids, max_values)
    lines.append("")
    lines += _missing_text(q, cmap)
    for note in notes:
        lines.append(f"Note: {note}")
    return "\n".join(lines)


def _values_text(values: Sequence["ValueMap"], item_ids: set[str], max_values: int) -> list[str]:
    """Answer labels pooled over the items (the same labels in every column), then each other mapped column."""
    vm = [v for v in values if v.mapped or v.unread]
    if not vm:
        return []
    lines = ["", "Values mapped:"]
    pooled: dict[tuple[str, str], int] = {}
    unread_items: dict[str, list[str]] = {}
    for v in vm:
        if v.target in item_ids:
            for raw, to, n in v.mapped:
                pooled[(raw, to)] = pooled.get((raw, to), 0) + n
            for raw, n in v.unread:
                unread_items.setdefault(v.column, []).append(f"'{raw}' ({n})")
    if pooled:
        shown = sorted(pooled.items(), key=lambda kv: (kv[0][1], kv[0][0]))
        lines.append(f"  answers (all items): {_listed([(raw, to, n) for (raw, to), n in shown], max_values)}")
    for v in vm:
        if v.target in item_ids:
            continue
        if v.mapped:
            lines.append(f"  {v.target}: {_listed(v.mapped, max_values)}")
        if v.unread:
            body = ", ".join(f"'{raw}' ({n})" for raw, n in v.unread[:max_values])
            lines.append(f"  {v.target}: NOT RECOGNISED: {body}")
    for c, vals in list(unread_items.items())[:max_values]:
        lines.append(f"  '{c}': NOT AN ANSWER CODE: {', '.join(vals[:6])}{' ...' if len(vals) > 6 else ''}")
    return lines


def _listed(mapped: Sequence[tuple[str, str, int]], most: int) -> str:
    body = ", ".join(f"{raw}->{to} ({n})" for raw, to, n in mapped[:most])
    return body + (f", ... ({len(mapped) - most} more)" if len(mapped) > most else "")


def _missing_text(q: "Questionnaire", cmap: "ColumnMap") -> list[str]:
    gcol = q.groups.column
    lines = []
    if cmap.missing_items or gcol in cmap.missing_roles:
        lines.append("NOT MATCHED (required):")
        for t in ([gcol] if gcol in cmap.missing_roles else []) + list(cmap.missing_items):
            why = ""
            if t in cmap.ambiguous:
                why = " -- ambiguous: " + ", ".join(f"'{c}'" for c in cmap.ambiguous[t])
            elif t in cmap.suggestions:
                c, r = cmap.suggestions[t]
                why = f" -- closest column: '{c}' (similarity {r:.2f})"
            label = q.label(t) if t != gcol else "group column"
            lines.append(f"  {t} ({label}){why}")
    else:
        lines.append("Every item and the group column are matched.")
    opt = [t for t in cmap.missing_roles if t != gcol]
    if opt:
        lines.append("Optional columns not found: " + ", ".join(opt))
    if cmap.unmatched:
        shown = ", ".join(f"'{c}'" for c in cmap.unmatched[:20])
        lines.append(f"Other columns, kept as they are ({len(cmap.unmatched)}): {shown}"
                     f"{', ...' if len(cmap.unmatched) > 20 else ''}")
    if cmap.ignored:
        lines.append("Left alone by the mapping file: " + ", ".join(f"'{c}'" for c in cmap.ignored))
    return lines


__all__ = ["ACTION_LABELS", "RULE_LABELS", "appendix_table", "finding_text", "mapping_text", "rule_label",
           "summary_text", "where_read"]
