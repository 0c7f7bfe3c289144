"""A local load test of ``POST /decide``: throughput, latency percentiles, errors and lost decisions.

    python -m retail_lift.api.loadtest --warehouse W --log-dir DIR --n 10000 --concurrency 16 --out results.json

``http`` mode (the benchmark's): the API runs as its own process (``retail-lift api`` on
127.0.0.1, a free port, its own log folder) and a load client in this process keeps
``concurrency`` HTTP/1.1 keep-alive connections busy, one request in flight on each, until ``n``
requests are answered (after ``warmup`` requests that are not measured). The client is a small
asyncio HTTP client (pre-encoded requests, only the status line, ``Content-Length`` and the
``decision_id`` of the answer are read), so that the client's own cost stays small next to the
server's on the same machine. Latency is per request, from writing the request to reading the
whole answer. After the run the server is stopped and its decision log is read back:

* ``lost``: answers 200 whose ``decision_id`` has no line in the log (must be 0);
* ``duplicated``: ``decision_id`` values with more than one line (must be 0);
* ``unanswered_logged``: log lines without a 200 answer (the client saw none).

``inprocess`` mode: ``n`` sequential requests through FastAPI's TestClient (the app's own time,
validation + policy + the fsync'ed log append, no network).

Requests alternate between a context body and a customer-only body (the customer's latest logged
context). The figures depend on the machine: the result records its CPU count, memory, load
average and that the client ran on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

CTX = {"age_band": "25-34", "device": "mobile", "acquisition_channel": "facebook", "follows_page": 1,
       "heard_of_shop": 0, "orders_90d": 2, "days_since_last_order": 12.5, "views_30d": 7, "hour": 19}
#: the issue's targets for the HTTP mode
TARGETS = {"decisions_per_s": 1000.0, "p99_ms": 50.0, "errors": 0, "lost": 0}


def request_bodies(warehouse_path, n: int) -> list[dict]:
    """``n`` request bodies: every other one a known customer without context (up to 500 customers of
    the ledger), the others a context (hour and views varying)."""
    from retail_lift.warehouse import read_only

    customers: list[str] = []
    try:
        with read_only(warehouse_path) as con:
            customers = [r[0] for r in con.execute(
                "select distinct customer_id from marts.fct_decision_ledger where customer_id is not null "
                "order by 1 limit 500").fetchall()]
    except Exception:  # noqa: BLE001 - no ledger table: context bodies only
        customers = []
    out = []
    for i in range(n):
        if customers and i % 2:
            out.append({"customer_id": customers[i % len(customers)]})
        else:
            out.append({"customer_id": f"load_{i}", "context": {**CTX, "hour": i % 24, "views_30d": i % 40}})
    return out


def _summary(ms: np.ndarray) -> dict:
    if ms.size == 0:
        return {"n": 0}
    return {"n": int(ms.size), "mean_ms": round(float(ms.mean()), 3),
            **{f"p{q}_ms": round(float(np.percentile(ms, q)), 3) for q in (50, 90, 95, 99)},
            "max_ms": round(float(ms.max()), 3)}


# ----------------------------------------------------------------------------------------------
# in-process (sequential)
# ----------------------------------------------------------------------------------------------


def _timed(post, bodies) -> np.ndarray:
    ms = np.empty(len(bodies))
    for i, body in enumerate(bodies):
        t = time.perf_counter()
        res = post(body)
        ms[i] = (time.perf_counter() - t) * 1000
        if res.status_code != 200:
            raise RuntimeError(f"/decide answered {res.status_code}: {res.text}")
    return ms


def run_inprocess(app, bodies, warmup: int = 50) -> dict:
    """Sequential requests through FastAPI's TestClient: latency percentiles and requests/s."""
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        _timed(lambda b: c.post("/decide", json=b), bodies[:warmup])
        ms = _timed(lambda b: c.post("/decide", json=b), bodies)
    return {**_summary(ms), "requests_per_s": round(float(1000.0 / ms.mean()), 1)}


# ----------------------------------------------------------------------------------------------
# the server process
# ----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(warehouse_path, log_dir, port: int, *, policy_id: str | None = None, seed: int | None = 0,
                 extra_args: tuple[str, ...] = (), timeout_s: float = 60.0) -> subprocess.Popen:
    """``retail-lift api`` on 127.0.0.1:``port`` in its own process; returns once ``/healthz``
    answers (200 or 503). Stop it with :func:`stop_server`."""
    args = [sys.executable, "-c", "from retail_lift.cli import main; main()", "api",
            "--warehouse", str(warehouse_path), "--log-dir", str(log_dir), "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning", *extra_args]
    if policy_id:
        args += ["--policy-id", policy_id]
    if seed is not None:
        args += ["--seed", str(seed)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the API exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
        try:
            status, _ = http_get(port, "/healthz")
            if status in (200, 503):
                return proc
        except OSError:
            time.sleep(0.1)
    stop_server(proc)
    raise RuntimeError(f"the API did not answer /healthz within {timeout_s} s")


def stop_server(proc: subprocess.Popen, timeout_s: float = 20.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stderr is not None:
        proc.stderr.close()


def http_get(port: int, path: str) -> tuple[int, dict]:
    """One blocking GET on 127.0.0.1 (status, JSON body)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        res = conn.getresponse()
        return res.status, json.loads(res.read() or b"{}")
    finally:
        conn.close()


# ----------------------------------------------------------------------------------------------
# the load client
# ----------------------------------------------------------------------------------------------


def encode_request(body: dict, path: str = "/decide") -> bytes:
    payload = json.dumps(body, separators=(",", ":")).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
            break
    return status, await reader.readexactly(length) if length else b""


class LoadResult:
    """What the client saw: per request latency (ms), status, and the ``decision_id`` of every 200."""

    def __init__(self):
        self.latency_ms: list[float] = []
        self.status: Counter = Counter()
        self.decision_ids: list[str] = []
        self.transport_errors: list[str] = []
        self.wall_s = 0.0


async def _drive(port: int, requests: list[bytes], concurrency: int, result: LoadResult,
                 on_answer=None) -> None:
    next_i = 0

    async def connection():
        nonlocal next_i
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as e:
            result.transport_errors.append(f"connect: {e}")
            return
        try:
            while next_i < len(requests):
                req = requests[next_i]
                next_i += 1
                t = time.perf_counter()
                writer.write(req)
                status, body = await _read_response(reader)
                result.latency_ms.append((time.perf_counter() - t) * 1000.0)
                result.status[status] += 1
                if status == 200:
                    result.decision_ids.append(json.loads(body)["decision_id"])
                if on_answer is not None:
                    on_answer(result)
        except (OSError, asyncio.IncompleteReadError, ValueError) as e:
            result.transport_errors.append(f"{type(e).__name__}: {e}")
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))


def run_load(port: int, bodies: list[dict], concurrency: int = 16, on_answer=None) -> LoadResult:
    """Send ``bodies`` to ``POST /decide`` on 127.0.0.1:``port`` over ``concurrency`` keep-alive
    connections (one request in flight on each). ``on_answer(result)`` is called after every answer
    (the kill test uses it). Transport errors end a connection and are recorded, not raised."""
    requests = [encode_request(b) for b in bodies]
    result = LoadResult()
    t = time.perf_counter()
    asyncio.run(_drive(port, requests, concurrency, result, on_answer))
    result.wall_s = time.perf_counter() - t
    return result


def check_log(log_dir, decision_ids) -> dict:
    """Every answered ``decision_id`` against the decision log's lines (see the module docstring)."""
    from .log import decision_log_files, read_jsonl

    records, skipped = read_jsonl(decision_log_files(log_dir))
    lines = Counter(str(r.get("decision_id")) for r in records)
    answered = Counter(decision_ids)
    return {
        "answered_200": len(decision_ids),
        "log_lines": sum(lines.values()),
        "lost": sum(1 for d in answered if lines[d] == 0),
        "duplicated": sum(1 for d, c in lines.items() if c > 1) + sum(1 for d, c in answered.items() if c > 1),
        "unanswered_logged": sum(1 for d in lines if d not in answered),
        "unreadable_lines": skipped,
    }


def cpu_busy_share(seconds: float = 2.0) -> float | None:
    """Share of all CPUs busy over ``seconds`` (Linux ``/proc/stat``; this process is idle meanwhile),
    ``None`` elsewhere: whether the machine is quiet right now (the load average lags by minutes)."""
    def sample():
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields), idle
    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    total = total1 - total0
    return round(1.0 - (idle1 - idle0) / total, 3) if total > 0 else None


def machine() -> dict:
    mem = None
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        mem = round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 1024 ** 3, 1)
    return {"cpus": os.cpu_count(), "memory_gib": mem, "platform": platform.platform(),
            "python": platform.python_version(), "loadavg_before": [round(x, 2) for x in os.getloadavg()],
            "cpu_busy_before": cpu_busy_share(),
            "client": "same machine (asyncio HTTP/1.1 keep-alive client in the benchmark process)"}


def server_stack() -> dict:
    """What uvicorn runs with here (``auto`` picks uvloop and httptools when they are installed)."""
    def has(mod):
        import importlib.util
        return importlib.util.find_spec(mod) is not None
    return {"event_loop": "uvloop" if has("uvloop") else "asyncio", "http": "httptools" if has("httptools") else "h11",
            "workers": 1}


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux ``/proc``), ``None`` elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def fsync_latency_ms(folder, n: int = 100) -> dict:
    """p50 / p99 of ``n`` appends of a 300-byte line, each ``fsync``'ed, in ``folder`` (the disk the
    decision log is on): the wait that group commit shares between the decisions of a batch."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".fsync_probe"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    ms = []
    try:
        for _ in range(n):
            os.write(fd, b"x" * 299 + b"\n")
            t = time.perf_counter()
            os.fsync(fd)
            ms.append((time.perf_counter() - t) * 1000)
    finally:
        os.close(fd)
        path.unlink()
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3)}


def _client_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def run_http(warehouse_path, log_dir, bodies: list[dict], *, concurrency: int = 16, warmup: int = 200,
             policy_id: str | None = None, extra_args: tuple[str, ...] = ()) -> dict:
    """The HTTP mode (module docstring): figures, the log check and the targets."""
    log_dir = Path(log_dir)
    shutil.rmtree(log_dir, ignore_errors=True)
    fsync = fsync_latency_ms(log_dir)
    port = free_port()
    proc = start_server(warehouse_path, log_dir, port, policy_id=policy_id, extra_args=extra_args)
    try:
        status, health = http_get(port, "/healthz")
        if status != 200:
            raise RuntimeError(f"the API serves no policy: {health.get('reason')}")
        warm = run_load(port, bodies[:warmup], concurrency)
        server_cpu, client_cpu = process_cpu_s(proc.pid), _client_cpu_s()
        res = run_load(port, bodies, concurrency)
        server_cpu = None if server_cpu is None else process_cpu_s(proc.pid) - server_cpu
        client_cpu = _client_cpu_s() - client_cpu
        _, after = http_get(port, "/healthz")
    finally:
        stop_server(proc)
    ms = np.asarray(res.latency_ms)
    errors = sum(c for s, c in res.status.items() if s != 200) + len(res.transport_errors)
    log = check_log(log_dir, warm.decision_ids + res.decision_ids)
    out = {
        "requests": len(bodies), "concurrency": concurrency, "warmup_requests": warmup,
        "served": {k: health.get(k) for k in ("policy_id", "version", "served_as", "floor", "shadow_policy_id")},
        "wall_s": round(res.wall_s, 3), "decisions_per_s": round(res.status[200] / res.wall_s, 1),
        **_summary(ms), "status_counts": {str(k): v for k, v in sorted(res.status.items())},
        "errors": errors, "transport_errors": res.transport_errors[:5], "log_check": log,
        "lost": log["lost"] + log["duplicated"], "server": server_stack(),
        # CPU time per request: what the figures cost, whatever else ran on the machine
        "server_cpu_ms_per_request": None if server_cpu is None else round(1000 * server_cpu / len(bodies), 3),
        "client_cpu_ms_per_request": round(1000 * client_cpu / len(bodies), 3),
        "fsync_latency_ms": fsync,
        "log_batches": after.get("log_batches"),
        "mean_decisions_per_fsync": round(after["log_batched_decisions"] / after["log_batches"], 2)
        if after.get("log_batches") else None,
    }
    out["targets"] = {
        "decisions_per_s >= 1000": out["decisions_per_s"] >= TARGETS["decisions_per_s"],
        "p99_ms <= 50": out.get("p99_ms", float("inf")) <= TARGETS["p99_ms"],
        "errors == 0": errors == 0,
        "lost == 0 (every 200 answer has exactly one log line)": out["lost"] == 0,
    }
    return out


def markdown(result: dict) -> str:
    h = result["http"]
    m = result["machine"]
    busy_share = m.get("cpu_busy_before")
    busy = busy_share > 0.1 if busy_share is not None else m["loadavg_before"][0] > 0.5 * (m["cpus"] or 1)
    seen = "" if busy_share is None else f"{busy_share:.0%} of the CPUs busy in the 2 s before, "
    after = m.get("loadavg_after", [float("nan")])[0]
    quiet = (f"Not a quiet machine: other jobs ran beside the benchmark ({seen}load average "
             f"{m['loadavg_before'][0]:.1f} before, {after:.1f} after)." if busy else
             f"The machine was otherwise quiet ({seen}load average {m['loadavg_before'][0]:.1f} before, still "
             f"decaying from earlier jobs).")
    lines = [
        "# Decision API under local load", "",
        f"Measured {result['measured_at']} on {m['cpus']} CPUs, {m['memory_gib']} GiB ({m['platform']}, Python "
        f"{m['python']}); load average before {m['loadavg_before']}. Client: {m['client']}. Server: "
        f"`retail-lift api` (uvicorn, {h['server']['event_loop']} + {h['server']['http']}, "
        f"{h['server']['workers']} worker) on 127.0.0.1; every decision fsync'ed to the decision log (group "
        f"commit) before its answer; one fsync on this disk takes {h['fsync_latency_ms']['p50_ms']} ms (p50), "
        f"{h['fsync_latency_ms']['p99_ms']} ms (p99). {quiet}", "",
        f"Warehouse `{result['warehouse']}`; served {h['served']['policy_id']} {h['served']['version']} "
        f"({h['served']['served_as']}), floor {h['served']['floor']}.", "",
        f"{h['requests']:,} `POST /decide` requests at concurrency {h['concurrency']} (after {h['warmup_requests']} "
        f"warm-up requests), half with a context, half customer-only.", "",
        "| measure | value | target | met |", "|---|---:|---:|---|",
        f"| decisions/s | {h['decisions_per_s']:,.0f} | >= 1,000 | {h['targets']['decisions_per_s >= 1000']} |",
        f"| p50 latency (ms) | {h['p50_ms']:.1f} | | |",
        f"| p99 latency (ms) | {h['p99_ms']:.1f} | <= 50 | {h['targets']['p99_ms <= 50']} |",
        f"| max latency (ms) | {h['max_ms']:.1f} | | |",
        f"| errors | {h['errors']} | 0 | {h['targets']['errors == 0']} |",
        f"| lost or duplicated decisions | {h['lost']} | 0 | "
        f"{h['targets']['lost == 0 (every 200 answer has exactly one log line)']} |", "",
        f"Log check: {h['log_check']['answered_200']:,} answers 200, {h['log_check']['log_lines']:,} log lines, "
        f"{h['log_check']['lost']} lost, {h['log_check']['duplicated']} duplicated, "
        f"{h['log_check']['unanswered_logged']} logged without an answer.", "",
        f"Cost per request: server {h['server_cpu_ms_per_request']} ms CPU, client {h['client_cpu_ms_per_request']} ms "
        f"CPU; {h['mean_decisions_per_fsync']} decisions per fsync on average (group commit).",
    ]
    if len(result.get("http_runs", [])) > 1:
        lines += ["", f"The table is the median of {len(result['http_runs'])} runs by decisions/s (the machine's other "
                      "load varies between runs); every run:", "",
                  "| run | decisions/s | p50 (ms) | p99 (ms) | errors | lost | server CPU (ms/request) | decisions per "
                  "fsync | load average after |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        for i, r in enumerate(result["http_runs"], 1):
            lines.append(f"| {i} | {r['decisions_per_s']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
                         f"{r['errors']} | {r['lost']} | {r['server_cpu_ms_per_request']} | "
                         f"{r['mean_decisions_per_fsync']} | {r['loadavg_after_run']} |")
    if "inprocess" in result:
        ip = result["inprocess"]
        lines += ["", f"In process (TestClient, {ip['n']:,} sequential requests): p50 {ip['p50_ms']:.2f} ms, p99 "
                      f"{ip['p99_ms']:.2f} ms, {ip['requests_per_s']:,.0f} requests/s."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    from .app import create_app

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--warehouse", required=True)
    p.add_argument("--log-dir", required=True, help="the server's decision log folder (emptied first)")
    p.add_argument("--policy-id", default=None)
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--mode", choices=["http", "inprocess", "both"], default="http")
    p.add_argument("--repeat", type=int, default=1,
                   help="HTTP runs (each on a fresh server and log); the result is the median run by decisions/s, "
                        "every run is listed (the machine's other load varies between runs)")
    p.add_argument("--out", required=True, help="results JSON (a .md with the same stem is written beside it)")
    a = p.parse_args(argv)
    bodies = request_bodies(a.warehouse, a.n)
    result = {"endpoint": "POST /decide", "warehouse": str(a.warehouse), "machine": machine(),
              "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if a.mode in ("http", "both"):
        runs = []
        for i in range(max(1, a.repeat)):
            run = run_http(a.warehouse, Path(a.log_dir) / "http", bodies, concurrency=a.concurrency,
                           policy_id=a.policy_id)
            run["loadavg_after_run"] = [round(x, 2) for x in os.getloadavg()]
            runs.append(run)
            print(f"run {i + 1}: {run['decisions_per_s']:.0f} decisions/s, p50 {run['p50_ms']:.1f} ms, p99 "
                  f"{run['p99_ms']:.1f} ms, {run['errors']} errors, {run['lost']} lost", file=sys.stderr)
        result["http"] = sorted(runs, key=lambda r: r["decisions_per_s"])[len(runs) // 2]
        result["http_runs"] = [{k: r[k] for k in ("decisions_per_s", "p50_ms", "p99_ms", "max_ms", "errors", "lost",
                                                  "server_cpu_ms_per_request", "mean_decisions_per_fsync",
                                                  "loadavg_after_run")} for r in runs]
    if a.mode in ("inprocess", "both"):
        app = create_app(a.warehouse, Path(a.log_dir) / "inprocess", policy_id=a.policy_id, seed=0)
        if app.state.policy is None:
            raise SystemExit(f"no policy to serve: {app.state.policy_error}")
        result["inprocess"] = run_inprocess(app, bodies[:2000])
    result["machine"]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    if "http" in result:
        out.with_suffix(".md").write_text(markdown(result))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
