"""Helpers of the instrument tests that do not use surveykit: the questionnaire read as plain YAML, responses
generated from it, and contract 2 (scoring) re-derived with pandas -- an independent source for the assertions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "questionnaires" / "ip_protection_satisfaction.yaml"


def raw(path: Path = SHIPPED) -> dict:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def raw_items(doc: dict) -> list[dict]:
    """Every item in tree order (a node's children first, then its own items), with ``path``: the nodes above."""
    out: list[dict] = []

    def visit(node: dict, above: list[dict]) -> None:
        here = [*above, node]
        for child in node.get("children", []):
            visit(child, here)
        for item in node.get("items", []):
            out.append(dict(item, path=here))

    for top in doc["indicators"]:
        visit(top, [])
    return out


def group_ids(doc: dict) -> list[str]:
    return [g["id"] for g in doc["groups"]["levels"]]


def asked_of(doc: dict, item: dict) -> list[str]:
    return list(item.get("groups") or group_ids(doc))


def make_responses(doc: dict, columns: list[str], units: list[str], n: int, seed: int) -> pd.DataFrame:
    """``n`` respondents in the layout ``columns`` (id, group, unit, items): codes 1..max and the missing codes for
    the items asked of the respondent's group, blank for the others; groups and units in turn."""
    rng = np.random.default_rng(seed)
    scale = doc["scale"]
    choices = list(range(scale["min"], scale["max"] + 1)) + list(scale.get("missing", []))
    gids, items = group_ids(doc), {i["id"]: i for i in raw_items(doc)}
    id_col, g_col, u_col = columns[:3]
    rows = []
    for k in range(n):
        g = gids[k % len(gids)]
        row = {id_col: f"R{k + 1:04d}", g_col: g, u_col: units[k % len(units)]}
        for c in columns[3:]:
            row[c] = int(rng.choice(choices)) if g in asked_of(doc, items[c]) else None
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def expected_scores(doc: dict, data: pd.DataFrame) -> dict[tuple[str, str], float]:
    """Contract 2 with equal weights: (group, element) -> score, groups and ``all``."""
    scale = doc["scale"]
    lo, hi, missing = scale["min"], scale["max"], set(scale.get("missing", []))
    gcol = doc["groups"]["column"]
    out: dict[tuple[str, str], float] = {}

    def node_score(node: dict, g: str) -> float | None:
        parts = []
        for child in node.get("children", []):
            v = node_score(child, g)
            if v is not None:
                parts.append((child.get("weight", 1), v))
        for item in node.get("items", []):
            if g not in asked_of(doc, item):
                continue
            x = pd.to_numeric(data.loc[data[gcol] == g, item["id"]], errors="coerce").dropna()
            x = x[~x.isin(missing)]
            s = (100 * (hi - x) / (hi - lo) if item.get("reverse") else 100 * (x - lo) / (hi - lo)).mean()
            out[(g, item["id"])] = s
            parts.append((item.get("weight", 1), s))
        if not parts:
            return None
        v = sum(w * s for w, s in parts) / sum(w for w, _ in parts)
        out[(g, node["id"])] = v
        return v

    for g in group_ids(doc):
        out[(g, "index")] = node_score(dict(id="index", children=doc["indicators"]), g)
    weights = {lv["id"]: lv["weight"] for lv in doc["groups"]["levels"]}
    for element in {e for _, e in out}:
        have = [g for g in weights if (g, element) in out]
        out[("all", element)] = sum(weights[g] * out[(g, element)] for g in have) / sum(weights[g] for g in have)
    return out
