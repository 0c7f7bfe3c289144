"""A local load test of ``POST /decide``: latency percentiles over N sequential requests.

    python -m retail_lift.api.loadtest --warehouse W --log-dir DIR --n 2000 --out reports/api_latency.json

Two modes, both on this machine only: ``inprocess`` (FastAPI's TestClient: the app's own time,
validation + policy + fsync'ed log append, no network) and ``uvicorn`` (a uvicorn server on
127.0.0.1 and an HTTP keep-alive client: what a caller on the same host sees). Requests alternate
between a context body and a customer-only body (the customer's latest logged context).
"""

from __future__ import annotations

import argparse
import json
import platform
import socket
import threading
import time
from pathlib import Path

import numpy as np

CTX = {"age_band": "25-34", "device": "mobile", "acquisition_channel": "facebook", "follows_page": 1,
       "heard_of_shop": 0, "orders_90d": 2, "days_since_last_order": 12.5, "views_30d": 7, "hour": 19}


def _bodies(app, n: int) -> list[dict]:
    from retail_lift.warehouse import read_only

    customers: list[str] = []
    try:
        with read_only(app.state.warehouse_path) as con:
            customers = [r[0] for r in con.execute(
                "select distinct customer_id from marts.fct_decision_ledger where customer_id is not null "
                "order by 1 limit 500").fetchall()]
    except Exception:  # no ledger table: context bodies only
        customers = []
    out = []
    for i in range(n):
        if customers and i % 2:
            out.append({"customer_id": customers[i % len(customers)]})
        else:
            out.append({"customer_id": f"load_{i}", "context": {**CTX, "hour": i % 24, "views_30d": i % 40}})
    return out


def _summary(ms: np.ndarray) -> dict:
    return {"n": int(ms.size), "mean_ms": float(ms.mean()),
            **{f"p{q}_ms": float(np.percentile(ms, q)) for q in (50, 90, 95, 99)}, "max_ms": float(ms.max()),
            "requests_per_s": float(1000.0 / ms.mean())}


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
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        _timed(lambda b: c.post("/decide", json=b), bodies[:warmup])
        return _summary(_timed(lambda b: c.post("/decide", json=b), bodies))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_uvicorn(app, bodies, warmup: int = 50) -> dict:
    import httpx
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 20
        while not server.started:
            if time.time() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            _timed(lambda b: c.post("/decide", json=b), bodies[:warmup])
            return _summary(_timed(lambda b: c.post("/decide", json=b), bodies))
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def main(argv=None) -> dict:
    from .app import create_app

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--warehouse", required=True)
    p.add_argument("--log-dir", required=True)
    p.add_argument("--policy-id", default=None)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--mode", choices=["inprocess", "uvicorn", "both"], default="both")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    app = create_app(a.warehouse, a.log_dir, policy_id=a.policy_id, seed=0)
    if app.state.policy is None:
        raise SystemExit(f"no policy to serve: {app.state.policy_error}")
    bodies = _bodies(app, a.n)
    result = {"endpoint": "POST /decide", "policy_id": app.state.policy.policy_id,
              "policy_class": type(app.state.policy.policy).__name__, "version": app.state.policy.version,
              "n_arms": len(app.state.policy.arms), "requests": a.n, "sequential": True,
              "log_fsync_per_request": True, "log_dir": str(a.log_dir), "python": platform.python_version(),
              "machine": platform.machine(), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if a.mode in ("inprocess", "both"):
        result["inprocess"] = run_inprocess(app, bodies)
    if a.mode in ("uvicorn", "both"):
        result["uvicorn_127.0.0.1"] = run_uvicorn(app, bodies)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
