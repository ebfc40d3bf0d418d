"""The audit page: one self-contained HTML file (inline CSS and SVG, no script, no web font).

Every figure is an element with a ``data-figure`` attribute holding the plain number, so a test
(or a scraper) can read the page's numbers without parsing the formatted text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path

from reconciler.reporting.audit import charts
from reconciler.reporting.audit.figures import AuditFigures

_CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1f2933;margin:2em auto;
max-width:60em;padding:0 1em;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;border-bottom:1px solid #d9dee3;margin-top:1.6em}
.sub{color:#52606d;margin-top:0}
.tiles{display:flex;flex-wrap:wrap;gap:.6em}.tile{border:1px solid #d9dee3;border-radius:6px;padding:.5em .8em;
min-width:8em}.tile b{display:block;font-size:1.5em}.tile span{color:#52606d;font-size:.85em}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.15em .8em;text-align:left;border-bottom:1px solid #eef0f2}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
svg{max-width:100%;height:auto}
section{break-inside:avoid;page-break-inside:avoid}
@media print{body{margin:0;max-width:none}a{color:inherit}}
"""


def _n(name: str, value: int | float, text: str | None = None) -> str:
    shown = text if text is not None else (f"{value:,}" if isinstance(value, int) else f"{value:.1%}")
    return f'<span data-figure="{escape(name)}" data-value="{value}">{escape(shown)}</span>'


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "–"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> str:
    cells = "".join(f'<th class="{"n" if i >= numeric_from else ""}">{escape(h)}</th>' for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(f'<td class="{"n" if i >= numeric_from else ""}">{cell}</td>'
                                    for i, cell in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"


def render_page(figures: AuditFigures, *, title: str, exports: Mapping[str, Path] | None = None,
                page_folder: Path | None = None) -> str:
    f = figures
    taken = ("from " + f.checked_from.strftime("%Y-%m-%d %H:%M") + " to " + f.checked_to.strftime("%Y-%m-%d %H:%M")
             + " UTC") if f.checked_from and f.checked_to else "unknown (no recon_checked_at column)"
    runs = ", ".join(sorted(f.run_ids)[:3]) + (" …" if len(f.run_ids) > 3 else "")
    tiles = [("rows", "rows", f.rows), ("found", "found", f.found),
             ("not_found", "not found", f.by_status["not_found"]),
             ("invalid_input", "invalid", f.by_status["invalid_input"]), ("error", "error", f.by_status["error"])]
    parts = [f"<h1>Campaign audit: {escape(title)}</h1>",
             f'<p class="sub">Data taken <span data-figure="taken">{escape(taken)}</span>'
             + (f"; run {escape(runs)}" if runs else "") + "</p>",
             '<section id="headline"><div class="tiles">'
             + "".join(f'<div class="tile"><b>{_n(key, value)}</b><span>{label}</span></div>'
                       for key, label, value in tiles)
             + f'<div class="tile"><b>{_n("completion_rate", f.completion_rate)}</b>'
               "<span>completion rate (completed / found)</span></div></div></section>"]
    parts.append(_funnel(f))
    parts.append(_dispositions(f))
    parts.append(_attempts(f))
    parts.append(_days(f))
    parts.append(_agents(f))
    parts.append(_mismatch(f, exports or {}, page_folder))
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Campaign audit: {escape(title)}'
            f"</title><style>{_CSS}</style></head><body>\n{body}\n</body></html>\n")


def _funnel(f: AuditFigures) -> str:
    steps = [("on_list", "on the list (found)", f.found), ("attempted", "attempted", f.attempted),
             ("reached_agent", "reached an agent", f.reached_agent), ("completed", "completed", f.completed),
             ("positive", "positive disposition", f.positive)]
    chart = charts.horizontal_bars("funnel", [label for _, label, _ in steps], [("records", [v for *_, v in steps])])
    rows = [[escape(label), _n(key, value), _share(value, f.found)] for key, label, value in steps]
    return (f'<section id="funnel"><h2>Completion funnel</h2>{chart}{_table(["step", "records", "of found"], rows)}'
            f"<p>Positive: {escape(f.positive_rule)}. Reached an agent: a last agent is recorded.</p></section>")


def _dispositions(f: AuditFigures) -> str:
    html = ['<section id="dispositions"><h2>Dispositions</h2>']
    for done, heading in ((True, "completed records"), (False, "records not completed")):
        ranked = sorted(((name, count) for (flag, name), count in f.dispositions.items() if flag == done),
                        key=lambda item: (-item[1], item[0]))
        total = sum(count for _, count in ranked)
        html.append(f"<h3>{heading}: {_n('dispositions_' + ('completed' if done else 'open'), total)}</h3>")
        if not ranked:
            html.append("<p>none</p>")
            continue
        html.append(charts.horizontal_bars(f"dispositions-{done}", [name for name, _ in ranked],
                                           [("records", [count for _, count in ranked])]))
        html.append(_table(["disposition", "records", "share"],
                           [[escape(name), _disposition_count(name, done, count), _share(count, total)]
                            for name, count in ranked]))
    return "".join(html) + "</section>"


def _disposition_count(name: str, done: bool, count: int) -> str:
    return (f'<span data-disposition="{escape(name)}" data-completed="{str(done).lower()}" data-value="{count}">'
            f"{count:,}</span>")


def _attempts(f: AuditFigures) -> str:
    most = f.most_attempts
    labels = [str(n) for n in range(most + 1)]
    chart = charts.vertical_bars("attempts", labels, [f.attempts[n] for n in range(most + 1)], "attempts per record")
    return (f'<section id="attempts"><h2>Attempts per record</h2>{chart}<p>Most attempts seen: '
            f'{_n("most_attempts", most)}, reached by {_n("at_most_attempts", f.attempts[most])} record(s).</p>'
            "</section>")


def _days(f: AuditFigures) -> str:
    days = sorted(f.days)
    if not days:
        return '<section id="days"><h2>Last attempt dates</h2><p>No record has a last attempt date.</p></section>'
    chart = charts.vertical_bars("days", days, [f.days[d] for d in days], "day of the last attempt (UTC)")
    return (f'<section id="days"><h2>Last attempt dates</h2>{chart}<p>Latest day: '
            f'{_n("latest_day_records", f.days[days[-1]], f"{days[-1]} ({f.days[days[-1]]:,} records)")}; '
            "records still being dialled have recent days.</p></section>")


def _agents(f: AuditFigures) -> str:
    agents = f.top_agents()
    if not agents:
        return '<section id="agents"><h2>Agents</h2><p>No record names a last agent.</p></section>'
    chart = charts.horizontal_bars("agents", [name for name, *_ in agents],
                                   [("records", [r for _, r, _ in agents]), ("completed", [c for *_, c in agents])])
    rows = [[escape(name), f'<span data-agent="{escape(name)}" data-value="{records}">{records:,}</span>',
             f"{completed:,}"] for name, records, completed in agents]
    return f'<section id="agents"><h2>Agents (last agent, top 20)</h2>{chart}' \
           f'{_table(["agent", "records", "completed"], rows)}</section>'


def _mismatch(f: AuditFigures, exports: Mapping[str, Path], page_folder: Path | None) -> str:
    from reconciler.reporting.audit.exports import NEVER_ATTEMPTED, NOT_FOUND, UNMATCHED

    def link(name: str) -> str:
        path = exports.get(name)
        if path is None:
            return ""
        href = path.name if page_folder is None else Path(_relative(path, page_folder)).as_posix()
        return f' (<a href="{escape(href)}">{escape(name)}</a>)'

    unmatched = (_n("unmatched", f.unmatched) + " list records that no input key asked for" + link(UNMATCHED)
                 if f.unmatched is not None else "list records no key asked for: not known (give --unmatched)")
    return ('<section id="mismatch"><h2>Never attempted and mismatches</h2><ul>'
            f"<li>{_n('never_attempted', f.never_attempted)} records on the list never attempted"
            f"{link(NEVER_ATTEMPTED)}</li>"
            f"<li>{_n('not_on_list', f.by_status['not_found'])} input keys not on the list{link(NOT_FOUND)}</li>"
            f"<li>{unmatched}</li></ul></section>")


def _relative(path: Path, folder: Path) -> str:
    import os

    return os.path.relpath(path.resolve(), folder.resolve())
