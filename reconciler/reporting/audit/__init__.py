"""The campaign audit report: a page an operations manager reads, computed from a run's output table.

``write_audit`` counts the figures (``figures``), draws the charts (``charts``), renders the page
(``page``) and writes it, with the optional CSV exports (``exports``), never leaving half a page.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.errors import InputError
from reconciler.reporting.audit.charts import require_matplotlib
from reconciler.reporting.audit.context import AuditContext, check_same_run, read_run_report
from reconciler.reporting.audit.exports import write_exports
from reconciler.reporting.audit.figures import AuditFigures, count_figures
from reconciler.reporting.audit.page import render_page
from reconciler.reporting.audit.tables import column_names

__all__ = ["AuditContext", "AuditFigures", "count_figures", "parse_positive", "read_run_report",
           "require_matplotlib", "write_audit"]


def parse_positive(text: str | None) -> frozenset[str] | None:
    """``"Sale, Interested"`` -> the set; None or blank -> None (every completed record is positive)."""
    names = frozenset(name.strip() for name in (text or "").split(",") if name.strip())
    return names or None


def write_audit(table: Path, html: Path, *, context: AuditContext | None = None, run_report: Path | None = None,
                unmatched: Path | None = None, exports: Path | None = None,
                positive: frozenset[str] | None = None) -> AuditFigures:
    """Write the audit page of ``table`` (a file, or a folder of partitions) to ``html``; the figures
    it shows are returned. ``context`` names the tenant, list, campaign and key (what it lacks is shown
    as not known); ``run_report``: the path its run id was read from, to refuse another run's."""
    require_matplotlib()
    if not html.parent.is_dir():
        raise InputError(html, "the folder for the page does not exist")
    context = context or AuditContext()
    keys = context.key_columns
    if not keys and context.key_is_first_column:
        keys = tuple(column_names(table)[:1])
    figures = count_figures(table, positive=positive, unmatched=unmatched, key_columns=keys)
    if run_report is not None:
        check_same_run(context, figures.run_ids, report=run_report, table=table)
    written = write_exports(exports, table, unmatched) if exports is not None else None
    name = table.name + ("/" if table.is_dir() else "")
    text = render_page(figures, context=context, table_name=name, exports=written, page_folder=html.parent)
    temporary = html.with_name(f".{html.name}.partial")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(html)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise InputError(html, f"cannot write the page: {exc.strerror or exc}") from None
    return figures
