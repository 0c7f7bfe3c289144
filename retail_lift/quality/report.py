"""The front page of the Data Docs site: a self-contained HTML summary that works offline.

GX's own index page fills its list of validations with scripts loaded from public CDNs, so without
network access it shows an empty page (its validation and suite pages are plain HTML and readable).
The runner therefore keeps GX's index as ``gx_index.html`` and writes ``index.html`` here: the
outcome, the failed expectations with their sample bad values, every table with links to GX's
validation page of each batch, and the notes. No external asset is used.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1d2330;max-width:1400px}
h1{font-size:1.5rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:2rem}
.muted{color:#5d6778} .pass{color:#137333} .fail{color:#b3261e} .warn{color:#9a6700}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin-top:.5rem}
th,td{border-bottom:1px solid #e3e6eb;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f6f8} td.num{text-align:right;font-variant-numeric:tabular-nums}
code{font-size:.85rem;background:#f5f6f8;padding:0 .2rem;border-radius:3px}
.badge{display:inline-block;padding:.05rem .45rem;border-radius:.6rem;font-size:.8rem;font-weight:600}
.badge.error{background:#fce8e6;color:#b3261e} .badge.warning{background:#fef7e0;color:#9a6700}
.badge.ok{background:#e6f4ea;color:#137333} .badge.skipped{background:#eceff1;color:#455a64}
.badge.empty{background:#eceff1;color:#455a64}
"""


def _e(value) -> str:
    return html.escape(str(value))


def _validation_pages(docs_dir: Path) -> dict[str, str]:
    """GX validation pages by run name (``<suite> [<batch>]``), as paths relative to the site."""
    pages = {}
    for path in sorted((docs_dir / "validations").rglob("*.html")):
        rel = path.relative_to(docs_dir)
        pages[rel.parts[-3]] = rel.as_posix()
    return pages


def _links(pages: dict[str, str], suite: str, table: str) -> str:
    """Links to the GX pages of one suite: one per batch for the rows, else named for the rule."""
    found = [(run[len(suite) + 2:-1], page) for run, page in pages.items() if run.startswith(suite + " [")]
    if suite != table:  # schema or a whole-table rule: one page, named after it
        found = [(suite[len(table) + 1:], page) for _, page in found]
    return ", ".join(f'<a href="{_e(page)}">{_e(label)}</a>' for label, page in found)


def write_index(result, docs_dir: Path) -> Path:
    """Write ``docs_dir/index.html`` for a QualityResult (GX's own index is kept as gx_index.html)."""
    pages = _validation_pages(docs_dir)
    counts = result.to_dict()["counts"]
    status = ('<span class="fail">FAILED</span>' if not result.success else '<span class="pass">passed</span>')
    out = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Retail Lift data quality</title>"
           f"<style>{_CSS}</style></head><body>",
           "<h1>Retail Lift data quality</h1>",
           f"<p class=muted>Great Expectations checkpoint over the raw tables, the marts and the scored tables "
           f"&middot; {result.seconds:.1f} s &middot; <a href=gx_index.html>GX index</a> (its list needs network "
           f"access for its scripts)</p>",
           f"<p><b>Outcome: {status}</b> &mdash; {counts['tables_checked']} tables checked, "
           f"{counts['tables_skipped']} skipped, {counts['tables_empty']} empty (not checked); "
           f"{counts['expectations']} expectations: {counts['passed']} passed, "
           f"<span class=fail>{counts['errors']} error(s)</span>, <span class=warn>{counts['warnings']} "
           f"warning(s)</span>, {counts['skipped']} not run.</p>"]

    failed = result.errors + result.warnings
    out.append("<h2>Failed expectations</h2>")
    if not failed:
        out.append("<p class=pass>None.</p>")
    else:
        out.append("<table><tr><th>severity</th><th>table</th><th>column</th><th>expectation</th>"
                   "<th>unexpected</th><th>sample bad values</th><th>GX pages</th></tr>")
        for r in failed:
            args = {k: v for k, v in r.kwargs.items()
                    if k not in ("column", "column_A", "column_B", "column_list", "ignore_row_if")}
            detail = f"<br><span class=muted>{_e(json.dumps(args))[:300]}</span>" if args else ""
            rule = f"<br><span class=muted>rule {_e(r.rule)}</span>" if r.rule else ""
            note = f"<br><span class=muted>{_e(r.message)}</span>" if r.message else ""
            out.append(
                f"<tr><td><span class='badge {r.severity}'>{r.severity}</span></td><td>{_e(r.table)}</td>"
                f"<td><code>{_e(r.column)}</code></td><td><code>{_e(r.expectation)}</code>{rule}{detail}</td>"
                f"<td class=num>{r.unexpected_count:,} / {r.element_count:,} {_e(r.unit)}{note}</td>"
                f"<td><code>{_e(json.dumps(r.sample_bad_values, default=str))[:400]}</code></td>"
                f"<td>{_links(pages, r.suite, r.table)}</td></tr>")
        out.append("</table>")

    out.append("<h2>Tables</h2><table><tr><th>table</th><th>status</th><th class=num>rows</th>"
               "<th class=num>batches</th><th class=num>expectations</th><th class=num>errors</th>"
               "<th class=num>warnings</th><th class=num>seconds</th><th>GX validation pages</th></tr>")
    for t in result.tables:
        mine = [r for r in result.results if r.table == t.table]
        n_err = sum(r in result.errors for r in mine)
        n_warn = sum(r in result.warnings for r in mine)
        badge = ("skipped" if t.status == "skipped" else "empty" if t.status == "empty"
                 else "error" if n_err else "warning" if n_warn else "ok")
        suites = sorted({r.suite for r in mine}, key=lambda s: (s != t.table, s))
        links = " &middot; ".join(x for x in (_links(pages, s, t.table) for s in suites) if x)
        rows = "" if t.rows is None else f"{t.rows:,}"
        msg = f"<br><span class=muted>{_e(t.message)}</span>" if t.message else ""
        out.append(f"<tr><td>{_e(t.table)}{msg}</td><td><span class='badge {badge}'>{badge}</span></td>"
                   f"<td class=num>{rows}</td><td class=num>{t.batches}</td><td class=num>{t.expectations}</td>"
                   f"<td class=num>{n_err}</td><td class=num>{n_warn}</td><td class=num>{t.seconds:.1f}</td>"
                   f"<td>{links}</td></tr>")
    out.append("</table>")

    if result.notes:
        out.append("<h2>Notes</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in result.notes) + "</ul>")
    not_run = [r for r in result.results if r.status == "skipped"]
    if not_run:
        out.append("<h2>Not run</h2><ul>" + "".join(f"<li>{_e(r.describe())}</li>" for r in not_run) + "</ul>")
    out.append("<p class=muted>Severity: an <b>error</b> fails <code>retail-lift check</code>; a <b>warning</b> "
               "is reported only. The same results are in <code>summary.json</code> beside this folder.</p>")
    out.append("</body></html>")
    index = docs_dir / "index.html"
    index.write_text("\n".join(out), encoding="utf-8")
    return index
