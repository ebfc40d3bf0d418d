"""The campaign audit report: a page an operations manager reads, computed from a run's output table.

``write_audit`` counts the figures (``figures``), draws the charts (``charts``), renders the page
(``page``) and writes it, with the optional CSV exports (``exports``), never leaving half a page.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.errors import InputError
from reconciler.reporting.audit.charts import require_matplotlib
from reconciler.reporting.audit.exports import write_exports
from reconciler.reporting.audit.figures import AuditFigures, count_figures
from reconciler.reporting.audit.page import render_page

__all__ = ["AuditFigures", "count_figures", "parse_positive", "require_matplotlib", "write_audit"]


def parse_positive(text: str | None) -> frozenset[str] | None:
    """``"Sale, Interested"`` -> the set; None or blank -> None (every completed record is positive)."""
    names = frozenset(name.strip() for name in (text or "").split(",") if name.strip())
    return names or None


def write_audit(table: Path, html: Path, *, unmatched: Path | None = None, exports: Path | None = None,
                positive: frozenset[str] | None = None) -> AuditFigures:
    """Write the audit page of ``table`` to ``html``; the figures it shows are returned."""
    require_matplotlib()
    if not html.parent.is_dir():
        raise InputError(html, "the folder for the page does not exist")
    figures = count_figures(table, positive=positive, unmatched=unmatched)
    written = write_exports(exports, table, unmatched) if exports is not None else None
    text = render_page(figures, title=table.name, exports=written, page_folder=html.parent)
    temporary = html.with_name(f".{html.name}.partial")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(html)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise InputError(html, f"cannot write the page: {exc.strerror or exc}") from None
    return figures
