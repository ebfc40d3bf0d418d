"""The audit page: one self-contained HTML file (inline CSS and SVG, no script, no web font).

Every figure is an element with a ``data-figure`` attribute holding the plain number, so a test
(or a scraper) can read the page's numbers without parsing the formatted text. The figures of the
campaign are in the unit ``AuditFigures.campaign`` counts (records when the key is known); beside
the headline and the funnel, the other unit is shown too, each labelled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path

from reconciler.reporting.audit import charts
from reconciler.reporting.audit.context import AuditContext
from reconciler.reporting.audit.figures import AuditFigures, Tally
from reconciler.reporting.audit.heading import heading, page_title

TOP_DISPOSITIONS_CHARTED = 15
_CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1f2933;margin:2em auto;
max-width:60em;padding:0 1em;line-height:1.4}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;border-bottom:1px solid #d9dee3;margin-top:1.6em}
.sub{color:#52606d;margin-top:0}.sub b{color:#1f2933;font-weight:600}
.tiles{display:flex;flex-wrap:wrap;gap:.6em;margin:.3em 0}.tile{border:1px solid #d9dee3;border-radius:6px;
padding:.5em .8em;min-width:8em}.tile b{display:block;font-size:1.5em}.tile span{color:#52606d;font-size:.85em}
.unit{font-weight:600;margin:.8em 0 0}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.15em .8em;text-align:left;border-bottom:1px solid #eef0f2}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
svg{max-width:100%;height:auto}
section{break-inside:avoid;page-break-inside:avoid}
thead{display:table-header-group}
h1,h2,h3,thead,tr{break-inside:avoid;page-break-inside:avoid}
h1,h2,h3,thead,thead tr{break-after:avoid;page-break-after:avoid}
@media print{body{margin:0;max-width:none}a{color:inherit}}
"""


def _n(name: str, value: int | float, text: str | None = None) -> str:
    shown = text if text is not None else (f"{value:,}" if isinstance(value, int) else f"{value:.1%}")
    return f'<span data-figure="{escape(name)}" data-value="{value}">{escape(shown)}</span>'


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "–"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> str:
    # A thead is repeated on every printed page the table spans (display: table-header-group).
    cells = "".join(f'<th class="{"n" if i >= numeric_from else ""}">{escape(h)}</th>' for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(f'<td class="{"n" if i >= numeric_from else ""}">{cell}</td>'
                                    for i, cell in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def render_page(figures: AuditFigures, *, context: AuditContext, table_name: str,
                exports: Mapping[str, Path] | None = None, page_folder: Path | None = None) -> str:
    title = page_title(context, figures)
    parts = [heading(title, context, figures, table_name), _headline(figures), _funnel(figures),
             _dispositions(figures), _attempts(figures), _days(figures), _agents(figures),
             _mismatch(figures, exports or {}, page_folder)]
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
            f"</title><style>{_CSS}</style></head><body>\n{body}\n</body></html>\n")


def _tile(name: str, value: int | float, label: str) -> str:
    return f'<div class="tile"><b>{_n(name, value)}</b><span>{escape(label)}</span></div>'


def _headline(f: AuditFigures) -> str:
    rows = f.rows
    html = ['<section id="headline"><p class="unit">Input rows (one a row of the table)</p><div class="tiles">',
            _tile("rows", rows.total, "input rows"), _tile("found", rows.found, "found"),
            _tile("not_found", rows.by_status["not_found"], "not found"),
            _tile("invalid_input", rows.by_status["invalid_input"], "invalid input"),
            _tile("error", rows.by_status["error"], "error"), "</div>"]
    if f.records is None:
        html.append('<p class="unit">Records (distinct keys): <span data-figure-unknown="keys">not known</span>; '
                    "the key is not known (give --key or --run-report); the figures below count input rows, "
                    "a key asked by several rows counts once a row</p>")
    else:
        keys = f.records
        html += [f'<p class="unit">Records (distinct keys of {escape(", ".join(f.key_columns))}: '
                 "rows that repeat a key count once; invalid input rows have no key)</p><div class=\"tiles\">",
                 _tile("keys", keys.total, "distinct keys"), _tile("found_keys", keys.found, "found records"),
                 _tile("not_found_keys", keys.by_status["not_found"], "keys not found"),
                 _tile("error_keys", keys.by_status["error"], "keys in error"), "</div>"]
    rate = _tile("completion_rate", f.campaign.completion_rate, f"completion rate (completed / found {f.unit})")
    html.append(f'<div class="tiles">{rate}</div></section>')
    return "".join(html)


def _funnel(f: AuditFigures) -> str:
    def steps(t: Tally) -> list[tuple[str, str, int]]:
        return [("on_list", "on the list (found)", t.found), ("attempted", "attempted", t.attempted),
                ("reached_agent", "reached an agent", t.reached_agent), ("completed", "completed", t.completed),
                ("positive", "positive disposition", t.positive)]

    shown = steps(f.campaign)
    chart = charts.horizontal_bars("funnel", [label for _, label, _ in shown], [(f.unit, [v for *_, v in shown])])
    rows = [[escape(label), _n(key, value), _share(value, f.campaign.found)] for key, label, value in shown]
    head = ["step", f.unit, "of found"]
    if f.records is not None:  # the same steps in input rows, for the reader who counts rows
        head.append("input rows")
        for row, (key, _, value) in zip(rows, steps(f.rows), strict=True):
            row.append(_n(f"{key}_rows", value))
    return (f'<section id="funnel"><h2>Completion funnel ({f.unit})</h2>{chart}{_table(head, rows)}'
            f"<p>Positive: {escape(f.positive_rule)}. Reached an agent: a last agent is recorded.</p></section>")


def _dispositions(f: AuditFigures) -> str:
    html = [f'<section id="dispositions"><h2>Dispositions ({f.unit})</h2>']
    for done, heading_text in ((True, f"completed {f.unit}"), (False, f"{f.unit} not completed")):
        ranked = sorted(((name, count) for (flag, name), count in f.campaign.dispositions.items() if flag == done),
                        key=lambda item: (-item[1], item[0]))
        total = sum(count for _, count in ranked)
        html.append(f"<h3>{heading_text}: {_n('dispositions_' + ('completed' if done else 'open'), total)}</h3>")
        if not ranked:
            html.append("<p>none</p>")
            continue
        charted = ranked[:TOP_DISPOSITIONS_CHARTED]  # the table below lists every one
        rest = ranked[TOP_DISPOSITIONS_CHARTED:]
        if rest:
            charted.append((f"{len(rest)} others", sum(count for _, count in rest)))
        html.append(charts.horizontal_bars(f"dispositions-{done}", [name for name, _ in charted],
                                           [(f.unit, [count for _, count in charted])]))
        html.append(_table(["disposition", f.unit, "share"],
                           [[escape(name), _disposition_count(name, done, count), _share(count, total)]
                            for name, count in ranked]))
    return "".join(html) + "</section>"


def _disposition_count(name: str, done: bool, count: int) -> str:
    return (f'<span data-disposition="{escape(name)}" data-completed="{str(done).lower()}" data-value="{count}">'
            f"{count:,}</span>")


def _attempts(f: AuditFigures) -> str:
    t = f.campaign
    most = t.most_attempts
    labels = [str(n) for n in range(most + 1)]
    chart = charts.vertical_bars("attempts", labels, [t.attempts[n] for n in range(most + 1)], "attempts per record",
                                 f.unit)
    return (f'<section id="attempts"><h2>Attempts per record ({f.unit})</h2>{chart}<p>Most attempts seen: '
            f'{_n("most_attempts", most)}, reached by {_n("at_most_attempts", t.attempts[most])} {f.unit}.</p>'
            "</section>")


def _days(f: AuditFigures) -> str:
    t = f.campaign
    days = sorted(t.days)
    if not days:
        return '<section id="days"><h2>Last attempt dates</h2><p>No record has a last attempt date.</p></section>'
    chart = charts.vertical_bars("days", days, [t.days[d] for d in days], "day of the last attempt (UTC)", f.unit)
    return (f'<section id="days"><h2>Last attempt dates ({f.unit})</h2>{chart}<p>Latest day: '
            f'{_n("latest_day_records", t.days[days[-1]], f"{days[-1]} ({t.days[days[-1]]:,} {f.unit})")}; '
            "records still being dialled have recent days.</p></section>")


def _agents(f: AuditFigures) -> str:
    agents = f.campaign.top_agents()
    if not agents:
        return '<section id="agents"><h2>Agents</h2><p>No record names a last agent.</p></section>'
    chart = charts.horizontal_bars("agents", [name for name, *_ in agents],
                                   [(f.unit, [r for _, r, _ in agents]), ("completed", [c for *_, c in agents])])
    rows = [[escape(name), f'<span data-agent="{escape(name)}" data-value="{found}">{found:,}</span>',
             f"{completed:,}"] for name, found, completed in agents]
    return (f'<section id="agents"><h2>Agents (last agent, top 20; {f.unit})</h2>{chart}'
            f'{_table(["agent", f.unit, "completed"], rows)}</section>')


def _mismatch(f: AuditFigures, exports: Mapping[str, Path], page_folder: Path | None) -> str:
    from reconciler.reporting.audit.exports import NEVER_ATTEMPTED, NOT_FOUND, UNMATCHED

    def link(name: str) -> str:
        path = exports.get(name)
        if path is None:
            return ""
        href = path.name if page_folder is None else Path(_relative(path, page_folder)).as_posix()
        return f' (<a href="{escape(href)}">{escape(name)}</a>)'

    t = f.campaign
    missing = "input keys not on the list" if f.records is not None else "input rows whose key is not on the list"
    unmatched = (_n("unmatched", f.unmatched) + " list records that no input key asked for" + link(UNMATCHED)
                 if f.unmatched is not None else "list records no key asked for: not known (give --unmatched)")
    return ('<section id="mismatch"><h2>Never attempted and mismatches</h2><ul>'
            f"<li>{_n('never_attempted', t.never_attempted)} {f.unit} on the list never attempted"
            f"{link(NEVER_ATTEMPTED)}</li>"
            f"<li>{_n('not_on_list', t.by_status['not_found'])} {missing}{link(NOT_FOUND)}</li>"
            f"<li>{unmatched}</li></ul></section>")


def _relative(path: Path, folder: Path) -> str:
    import os

    return os.path.relpath(path.resolve(), folder.resolve())
