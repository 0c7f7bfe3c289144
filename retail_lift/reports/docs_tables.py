"""Result tables of the docs pages, generated from the committed benchmark results.

A page under ``docs/`` holds a generated table between two markers::

    <!-- generated: bench_targets bench/results/bench_default.json -->
    ...
    <!-- end generated -->

``render_docs`` rewrites every such block from the named JSON file; ``retail-lift docs-tables`` runs it
(``--check`` only reports stale blocks, and a test runs the check), so the numbers on the pages are the
ones in ``bench/results`` and are never typed by hand. Renderers, by kind:

* ``bench_targets``: the targets of ``make bench`` (``bench/results/bench_<preset>.json``), each with its
  measured value, its limit and whether it was met;
* ``api_load``: the decision API load test (``bench/results/api_load_<preset>.json``);
* ``like_for_like``: the same minimal work in DuckDB SQL, pandas and polars, and the SQL layer against the fair
  floor (the ``like_for_like`` and ``fair_floor`` sections of ``bench/results/bench_<preset>.json`` or
  ``like_for_like_<preset>.json``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["RENDERERS", "render_block", "render_docs"]

BLOCK = re.compile(r"(<!-- generated: (\S+) (\S+) -->\n)(.*?)(<!-- end generated -->)", re.S)


def _fmt_value(value: float, unit: str) -> str:
    if unit == "bytes":
        return f"{value / 2**30:.2f} GiB"
    if unit == "fraction":
        return f"{100 * value:.1f} %"
    if unit == "x":
        return f"{value:.2f}×"
    if unit == "s":
        return f"{value:,.0f} s ({value / 60:.1f} min)" if value >= 120 else f"{value:.1f} s"
    if unit == "ms":
        return f"{value:.3g} ms"
    if unit == "ratio":
        return f"{value:.2f}"
    if unit in ("requests",):
        return f"{value:,.0f}"
    if abs(value) >= 1000:
        return f"{value:,.0f} {unit}"
    return f"{value:g} {unit}"


def _bench_targets(result: Mapping) -> str:
    machine = result.get("machine", {})
    load = machine.get("loadavg_before")
    lines = [
        f"Measured {str(result.get('started_at', ''))[:10]} with `make bench PRESET={result.get('preset')}`, "
        f"{machine.get('cpus', '?')} cores"
        + (f", load average {load[0]:.1f} before the run" if load else "") + ".",
        "",
        "| target | measured | limit | status | note |",
        "|---|---|---|---|---|",
    ]
    for t in result["targets"]:
        note = (t.get("note") or "").replace("|", "/")
        lines.append(f"| {t['target']} | {_fmt_value(t['value'], t['unit'])} | {_fmt_value(t['limit'], t['unit'])} "
                     f"| {t['status']} | {note} |")
    return "\n".join(lines)


def _api_load(result: Mapping) -> str:
    h = result["http"]
    runs = result.get("http_runs") or []
    rates = ", ".join(f"{r['decisions_per_s']:,.0f}" for r in runs)
    served = h.get("served", {})
    log = h.get("log_check", {})
    rows = [
        ("throughput", f"{h['decisions_per_s']:,.0f} decisions/s" + (f" (runs: {rates})" if rates else ""),
         "≥ 1,000"),
        ("latency", f"p50 {h['p50_ms']:.1f} ms, p99 {h['p99_ms']:.1f} ms, max {h['max_ms']:.1f} ms", "p99 ≤ 50 ms"),
        ("errors", f"{h['errors']}", "0"),
        ("lost decisions (a 200 answer without exactly one log line)",
         f"{h['lost']} ({log.get('answered_200', '?'):,} answers 200, {log.get('log_lines', '?'):,} log lines)", "0"),
        ("cost", f"server {h['server_cpu_ms_per_request']:.3f} ms CPU per decision, client "
                 f"{h['client_cpu_ms_per_request']:.3f} ms; {h['mean_decisions_per_fsync']:.1f} decisions per fsync",
         "—"),
    ]
    lines = [
        f"Measured {str(result.get('measured_at', ''))[:10]}: {h['requests']:,} `POST /decide` at concurrency "
        f"{h['concurrency']}, `{served.get('policy_id')}` served ({served.get('served_as')}), "
        f"{result.get('machine', {}).get('cpus', '?')} cores, the client on the same machine.",
        "",
        "| measure | result | target |",
        "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
    ]
    return "\n".join(lines)


def _gib(n) -> str:
    if n is None:
        return "n/a"
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def _like_for_like(result: Mapping) -> str:
    lfl, ff = result["like_for_like"], result.get("fair_floor")
    load = result.get("machine", {}).get("loadavg_before")
    lines = [
        f"Measured {str(result.get('started_at', ''))[:10]} on the `{result.get('preset')}` preset, "
        f"{result.get('machine', {}).get('cpus', '?')} cores" + (f", load average {load[0]:.1f} before the run" if load
                                                               else "") +
        "; each engine in its own process, "
        + (f"median of {lfl['repeats']} interleaved runs." if lfl["repeats"] > 1 else "one run each.")
        + (f" {result['note']}" if result.get("note") else ""),
        "",
        "| engine | wall (s) | peak memory | speed-up vs pandas | memory vs pandas | equal to the marts |",
        "|---|---|---|---|---|---|",
    ]
    for engine, v in lfl["engines"].items():
        eq = {True: "yes", False: "**no**"}.get(v.get("equal_to_marts"), "not compared")
        speed = f"{v['speedup_vs_pandas']:.2f}×" if "speedup_vs_pandas" in v else "—"
        mem = f"{v['memory_ratio_vs_pandas']:.2f}" if "memory_ratio_vs_pandas" in v else "—"
        lines.append(f"| {engine} {v.get('version') or ''} | {v['wall_s_median']:.2f} "
                     f"| {_gib(v['peak_rss_bytes_max'])} | {speed} | {mem} | {eq} |")
    lines += ["", "Outputs equal to each other: " + ("yes" if all(p["equal"] for p in lfl["pairwise"].values())
                                                     else "**no**") + "."]
    if ff:
        fl, sq, r = ff["floor"], ff["sql_layer"], ff["ratio"]
        met = r["run_elapsed_vs_compute"] is not None and r["run_elapsed_vs_compute"] <= ff["target_ratio"]
        lines += [
            "",
            "| fair floor | floor | SQL layer | ratio | target |",
            "|---|---|---|---|---|",
            f"| time of the work | {fl['compute_s_median']:.2f} s | {sq['run_elapsed_s_median']:.2f} s "
            f"| {r['run_elapsed_vs_compute']:.2f}× | ≤ {ff['target_ratio']:g}× ({'met' if met else 'missed'}) |",
            f"| process wall | {fl['wall_s_median']:.2f} s | {sq['wall_s_median']:.2f} s "
            f"| {r['wall_vs_wall']:.2f}× | — |",
            f"| peak memory | {_gib(fl['peak_rss_bytes_max'])} | {_gib(sq['peak_rss_bytes_max'])} "
            f"| {r['peak_rss_ratio']:.2f} | — |",
        ]
    return "\n".join(lines)


RENDERERS: dict[str, Callable[[Mapping], str]] = {"bench_targets": _bench_targets, "api_load": _api_load,
                                                   "like_for_like": _like_for_like}


def render_block(kind: str, source: Path) -> str:
    if kind not in RENDERERS:
        raise ValueError(f"unknown generated block kind {kind!r} (known: {', '.join(sorted(RENDERERS))})")
    if not source.exists():
        raise FileNotFoundError(f"generated block {kind}: {source} does not exist")
    return RENDERERS[kind](json.loads(source.read_text()))


def render_docs(docs_dir: Path, root: Path, *, check: bool = False) -> list[Path]:
    """Rewrite every generated block of ``docs_dir/**/*.md``; return the pages that changed (or would)."""
    changed = []
    for page in sorted(Path(docs_dir).rglob("*.md")):
        text = page.read_text()

        def repl(m: re.Match, page: Path = page) -> str:
            try:
                block = render_block(m.group(2), Path(root) / m.group(3))
            except (ValueError, FileNotFoundError, KeyError) as e:
                raise type(e)(f"{page}: {e}") from e
            return f"{m.group(1)}{block}\n{m.group(5)}"

        new = BLOCK.sub(repl, text)
        if new != text:
            changed.append(page)
            if not check:
                page.write_text(new)
    return changed
