"""Self-contained HTML reports: one file, figures embedded, no network access needed.

A :class:`Report` is a title, a list of headline numbers and sections of facts, figures
(matplotlib, embedded as base64 PNG ``data:`` URIs) and tables (pandas DataFrames). The
page has no scripts, no external stylesheets, fonts or images, so it opens the same offline,
from an e-mail attachment or an archive years later.

Headline numbers are marked up as ``<span class="headline" data-key="KEY">VALUE</span>`` so a
program (the report's own test, a lab's QA script) can read them back and compare them with
``summary.json``.

``calscipy analyze`` builds its ``report.html`` with this module (see
:func:`CalSciPy.report.analyze_session`).
"""
from __future__ import annotations

from CalSciPy._report.analysis import AnalysisResult, analyze_session
from CalSciPy._report.page import Report, figure_to_data_uri

__all__ = ["AnalysisResult", "Report", "analyze_session", "figure_to_data_uri"]
