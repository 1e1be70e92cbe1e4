"""The survey instrument from the questionnaire file: what is fielded is exactly what is scored.

:func:`write_instrument` (``surveykit instrument --questionnaire Q --out DIR``) writes into DIR:

``questionnaire_zh.html``, ``questionnaire_en.html``
    the printable questionnaire, self-contained (:func:`questionnaire_html`);
``codebook.xlsx``
    sheet ``codebook`` (one row per response column: question text zh/en, indicator path, scale, codes and labels,
    missing codes, groups, reverse flag, weight), sheet ``codes`` (every allowed value with its labels), sheet
    ``about``; text that a spreadsheet would run as a formula is neutralised (:func:`neutralise`);
``template.csv``, ``template.xlsx``
    the blank response file: ``respondent_id``, the group column, the unit column, a column per subgroup the study
    compares (``comparisons=``), one column per item, which
    ``surveykit validate`` reads without a mapping file; the workbook has drop-down lists of the allowed codes
    (sheet ``codes``);
``xlsform.xlsx``
    the form for ODK / KoboToolbox (:func:`xlsform_sheets`); its exports validate without a mapping file too.

Example
-------
>>> import surveykit as sk                                                             # doctest: +SKIP
>>> q = sk.load_questionnaire("questionnaires/ip_protection_satisfaction.yaml")       # doctest: +SKIP
>>> write_instrument(q, "instrument/", units=["江城区", "河东区"])                        # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from .. import __version__
from ..errors import InputError
from ..io.atomic import write_atomic
from ..spec.questionnaire import Questionnaire
from .html import questionnaire_html
from .layout import Layout, code_list, codebook, comparison_questions, layout, routing
from ..io.writers import write_csv
from .sheets import neutralise, write_xlsx
from .xlsform import xlsform_sheets

FILES = ("questionnaire_zh.html", "questionnaire_en.html", "codebook.xlsx", "template.csv", "template.xlsx",
         "xlsform.xlsx")


def _about(q: Questionnaire, lay: Layout) -> pd.DataFrame:
    rows = [("questionnaire", q.id), ("version", q.version), ("title_zh", q.title.get("zh")),
            ("title_en", q.title.get("en")), ("items", len(lay.items)), ("group column", lay.group),
            ("unit column", lay.unit), ("respondent id column", lay.respondent_id),
            ("scoring", "codes listed under missing_codes are don't know / missing: not scored"),
            ("written by", f"surveykit {__version__}")]
    return pd.DataFrame(rows, columns=["item", "value"])


def _dropdowns(codes: pd.DataFrame, lay: Layout):
    """Workbook setup: each column of the response sheet gets a drop-down list of its codes (sheet ``codes``)."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    def setup(wb) -> None:
        ws = wb["responses"]
        for j, column in enumerate(lay.columns, start=1):
            rows = [k + 2 for k in range(len(codes)) if codes.column.iat[k] == column]
            if not rows:
                continue
            dv = DataValidation(type="list", formula1=f"codes!$B${rows[0]}:$B${rows[-1]}", allow_blank=True)
            dv.add(f"{get_column_letter(j)}2:{get_column_letter(j)}1048576")
            ws.add_data_validation(dv)

    return setup


def write_template(q: Questionnaire, out: str | Path, lay: Layout) -> dict[str, Path]:
    """The blank response file, ``template.csv`` and ``template.xlsx`` (with drop-down lists), in folder ``out``."""
    out = Path(out)
    blank = pd.DataFrame(columns=lay.columns)
    codes = code_list(q, lay)
    csv = write_csv(blank, out / "template.csv", bom=True)
    xlsx = write_xlsx(out / "template.xlsx", {"responses": blank, "codes": codes}, safe=False,
                      setup=_dropdowns(codes, lay))
    return {"template.csv": csv, "template.xlsx": xlsx}


def write_instrument(q: Questionnaire, out: str | Path, *, unit_column: str = "district",
                     id_column: str = "respondent_id", units: Iterable = (), unit_kind=None,
                     comparisons: Sequence = ()) -> dict[str, Path]:
    """Write the six instrument files (:data:`FILES`) into the folder ``out`` (created if missing).

    ``unit_column``, ``id_column``: the names of those columns in the response data (as ``surveykit validate``).
    ``units``: the units offered as answers (drop-down lists, XLSForm choices): names, or the study's units
    (:class:`~surveykit.units.Unit`: the Chinese name is the code, each language shows its own name); empty: a
    free-text answer. ``unit_kind``: the study's words for its units (``{zh, en}``), which word the unit question
    (default: a generic wording). ``comparisons``: the study's declared subgroup comparisons, whose columns are
    asked too (:func:`~surveykit.instrument.layout.comparison_questions`).
    Raises :class:`~surveykit.errors.InputError` for names that cannot be columns or form fields.
    Returns file name -> path.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("not a folder", file=out)
    lay = layout(q, unit_column=unit_column, id_column=id_column, units=units, unit_kind=unit_kind,
                 questions=comparison_questions(comparisons))
    form = xlsform_sheets(q, lay)  # checks names before anything is written
    out.mkdir(parents=True, exist_ok=True)
    written = {f"questionnaire_{lang}.html": write_atomic(out / f"questionnaire_{lang}.html", questionnaire_html(
        q, lang, units=lay.units, unit_question=lay.unit_question, questions=lay.questions)) for lang in ("zh", "en")}
    written["codebook.xlsx"] = write_xlsx(out / "codebook.xlsx", {
        "codebook": codebook(q, lay), "codes": code_list(q, lay), "about": _about(q, lay)})
    written.update(write_template(q, out, lay))
    written["xlsform.xlsx"] = write_xlsx(out / "xlsform.xlsx", form, safe=False)
    return {name: written[name] for name in FILES}


__all__ = ["FILES", "codebook", "code_list", "comparison_questions", "layout", "neutralise", "questionnaire_html",
           "routing", "write_instrument", "write_template", "xlsform_sheets"]
