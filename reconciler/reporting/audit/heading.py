"""The page's title and heading: which tenant, list and campaign, which run, and what is not known.

A page printed and passed around must say what it is about by itself: the title (a browser tab, a
PDF's name) and the heading name the campaign, the list, the tenant and the run; what the audit was
not told is written as "not known", never left out or guessed.
"""

from __future__ import annotations

from html import escape

from reconciler.reporting.audit.context import AuditContext
from reconciler.reporting.audit.figures import AuditFigures

_SHOWN_RUNS = 3


def _subject(context: AuditContext) -> str:
    named = (("campaign", context.campaign), ("list", context.list_name), ("tenant", context.tenant))
    known = [f"{label} {value}" for label, value in named if value]
    unknown = [label for label, value in named if not value]
    if not unknown:
        return ", ".join(known)
    missing = unknown[0] if len(unknown) == 1 else ", ".join(unknown[:-1]) + " and " + unknown[-1]
    return ", ".join(known) + ("; " if known else "") + missing + " not known"


def run_text(figures: AuditFigures) -> str:
    """``run 20261205T021500.482Z-3f9a1c of 2026-12-05``, ``3 runs of 2026-12-05 to 2026-12-07``, or ""."""
    dates = sorted(figures.run_dates)
    span = "" if not dates else f" of {dates[0]}" if len(dates) == 1 else f" of {dates[0]} to {dates[-1]}"
    if len(figures.run_ids) == 1:
        return f"run {next(iter(figures.run_ids))}{span}"
    if figures.run_ids:
        return f"{len(figures.run_ids)} runs{span}"
    return f"run date{'s' if len(dates) > 1 else ''}{span}" if dates else ""


def page_title(context: AuditContext, figures: AuditFigures) -> str:
    run = run_text(figures)
    return f"Campaign audit: {_subject(context)}" + (f"; {run}" if run else "")


def heading(title: str, context: AuditContext, figures: AuditFigures, table_name: str) -> str:
    """The h1 (the title's text) and a line naming each part, a flag to give for each unknown one."""
    def part(name: str, label: str, value: str | None, hint: str) -> str:
        shown = (f'<span data-context="{name}">{escape(value)}</span>' if value
                 else f'<span data-context="{name}" data-unknown="true">not known</span> (give {hint})')
        return f"<b>{label}</b> {shown}"

    parts = [part("tenant", "Tenant", context.tenant, "--tenant or --run-report"),
             part("list", "List", context.list_name, "--list or --run-report"),
             part("campaign", "Campaign", context.campaign, "--campaign or --run-report")]
    runs = sorted(figures.run_ids)
    if runs:
        listed = ", ".join(runs[:_SHOWN_RUNS]) + (" …" if len(runs) > _SHOWN_RUNS else "")
        parts.append(f'<b>Run</b> <span data-context="run">{escape(listed)}</span>')
    if figures.run_dates:
        dates = sorted(figures.run_dates)
        shown = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
        parts.append(f'<b>Run date</b> <span data-context="run_date">{escape(shown)}</span>')
    taken = (f"from {figures.checked_from:%Y-%m-%d %H:%M} to {figures.checked_to:%Y-%m-%d %H:%M} UTC"
             if figures.checked_from and figures.checked_to else "unknown (no recon_checked_at column)")
    return (f"<h1>{escape(title)}</h1>"
            f'<p class="sub">{" · ".join(parts)}<br><b>Table</b> {escape(table_name)} · '
            f'<b>Data taken</b> <span data-figure="taken">{escape(taken)}</span></p>')
