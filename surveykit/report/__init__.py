"""Presentation layer: charts, tables, report text, HTML export (:mod:`.html`), fonts (:mod:`.fonts`)
and batch rendering of the per-district reports."""
