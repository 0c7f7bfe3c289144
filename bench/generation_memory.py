"""Generation of the simulated world: wall time, peak memory and identical output, base against branch.

    .venv/bin/python bench/generation_memory.py --presets default,large --base-rev 3f5eb76 \
        --out bench/results/generation_memory

For every preset and code version (``--base-rev``: a git revision of this repository, extracted with
``git archive`` into the work folder and imported instead of the installed package; ``branch``: the
working copy) it runs ``retail-lift generate --preset P --seed S --quiet`` under ``/usr/bin/time -v``
(wall time and Maximum resident set size), one generation at a time, then takes the sha256 of every file
under ``raw/`` and ``truth/`` (and ``world.json``) and compares the versions file by file. With
``--profile`` it also runs a stepwise profile of the branch (a separate process): for every generator
step and every table write, the peak RSS (``VmHWM``, reset at the start of each through
``/proc/self/clear_refs``) and the RSS after it; ``--profile-base`` profiles the base too. The profile is
its own run: its ``/usr/bin/time`` peak is not used (resetting ``VmHWM`` also lowers what the kernel
reports at exit). Generated worlds are deleted after hashing unless ``--keep``.

Writes ``OUT.json`` and ``OUT.md``. The machine is shared: the load average before and after each run is
recorded, and the times are upper bounds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_GIB = 8.0

# the child: optionally import retail_lift from another source tree (the base revision), then run a command
_CHILD = r"""
import sys
src, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]
if src:
    # the working copy is installed in editable mode (a meta-path finder): drop it, import the base tree
    sys.meta_path[:] = [f for f in sys.meta_path if not type(f).__module__.startswith("__editable__")]
    sys.path.insert(0, src)
import retail_lift
assert retail_lift.__file__.startswith(src or ""), retail_lift.__file__
if mode == "generate":
    from retail_lift.cli import main
    sys.argv = ["retail-lift", "generate", *args]
    main()
else:
    exec(open(mode).read(), {"__name__": "__profile__", "ARGS": args})
"""

_PROFILE = r'''
import json, time
import retail_lift.world.generate as g

def _status():
    d = {}
    for line in open("/proc/self/status"):
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM"):
            d[k] = int(v.split()[0]) / 1024 / 1024
    return d

def _reset():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")

rows, stack = [], []

def wrap(label, fn):
    def inner(*a, **k):
        if stack:  # a nested reset would hide the enclosing step's peak so far
            stack[-1] = max(stack[-1], _status()["VmHWM"])
        _reset()
        t0, before = time.time(), _status()["VmRSS"]
        stack.append(0.0)
        r = fn(*a, **k)
        nested, s = stack.pop(), _status()
        peak = max(s["VmHWM"], nested)
        if stack:
            stack[-1] = max(stack[-1], peak)
        rows.append({"step": label, "seconds": round(time.time() - t0, 1), "rss_before_gib": round(before, 2),
                     "peak_gib": round(peak, 2), "rss_after_gib": round(s["VmRSS"], 2)})
        return r
    return inner

for name in ("catalogue", "people", "sessions", "store_orders", "experiments", "decisions", "apply_exposures",
             "orders_and_events"):
    setattr(g._World, name, wrap(name, getattr(g._World, name)))
_orig_write = g._write
g._write = lambda table_def, cols, path, *a: wrap(f"write {path.name}", _orig_write)(table_def, cols, path, *a)
preset, seed, out, result = ARGS
g.generate_world(preset, int(seed), out, progress=False)
Path = __import__("pathlib").Path
Path(result).write_text(json.dumps(rows, indent=1))
'''


def _loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def _time_v(stderr: str) -> dict:
    def grab(label):
        m = re.search(rf"{re.escape(label)}: (.+)", stderr)
        return m.group(1).strip() if m else None
    wall = grab("Elapsed (wall clock) time (h:mm:ss or m:ss)")
    parts = [float(x) for x in wall.split(":")] if wall else []
    seconds = sum(x * 60 ** i for i, x in enumerate(reversed(parts))) if parts else None
    rss = grab("Maximum resident set size (kbytes)")
    cpu = grab("Percent of CPU this job got")
    return {"wall_seconds": round(seconds, 1) if seconds is not None else None,
            "peak_rss_gib": round(int(rss) / 1024 ** 2, 2) if rss else None, "cpu_percent": cpu}


def _hashes(folder: Path) -> dict[str, str]:
    out = {}
    for p in sorted([*folder.glob("raw/*"), *folder.glob("truth/*"), folder / "world.json"]):
        h = hashlib.sha256()
        with p.open("rb") as f:
            for block in iter(lambda: f.read(1 << 24), b""):
                h.update(block)
        out[p.relative_to(folder).as_posix()] = h.hexdigest()
    return out


def _run_child(src: str, mode: str, args: list[str], timed: bool) -> tuple[dict, float, float]:
    cmd = [sys.executable, "-c", _CHILD, src, mode, *args]
    if timed:
        cmd = ["/usr/bin/time", "-v", *cmd]
    load0 = _loadavg()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    load1 = _loadavg()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:6])} ... failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return (_time_v(proc.stderr) if timed else {}), load0, load1


def _extract(rev: str, work: Path) -> Path:
    dest = work / f"src_{rev}"
    if not (dest / "retail_lift").exists():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--presets", default="default,large")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--base-rev", default=None, help="git revision to compare against (else the branch only)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/retail_lift_bench/generation"))
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "generation_memory")
    ap.add_argument("--profile", action="store_true", help="a stepwise RSS profile of the branch (own run)")
    ap.add_argument("--profile-base", action="store_true", help="the same profile of the base revision")
    ap.add_argument("--keep", action="store_true", help="keep the generated worlds")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "retail_lift"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip())
    versions = [("branch", "")]
    if args.base_rev:
        versions.insert(0, ("base", str(_extract(args.base_rev, args.work))))
    profile_file = args.work / "profile_child.py"
    profile_file.write_text(_PROFILE)
    result = {"seed": args.seed, "branch_commit": head + ("+dirty" if dirty else ""), "base_rev": args.base_rev,
              "cpus": os.cpu_count(), "target_peak_gib": TARGET_GIB, "runs": [], "identical": {}, "profiles": {}}
    for preset in args.presets.split(","):
        hashes = {}
        for label, src in versions:
            out = args.work / f"{preset}_{label}"
            shutil.rmtree(out, ignore_errors=True)
            t0 = time.time()
            timing, load0, load1 = _run_child(src, "generate", ["--preset", preset, "--seed", str(args.seed),
                                                                "--out", str(out), "--quiet"], timed=True)
            summary = json.loads((out / "world.json").read_text())
            hashes[label] = _hashes(out)
            run = {"preset": preset, "version": label, **timing, "load_before": load0, "load_after": load1,
                   "events": summary["stats"]["events"], "customers": summary["stats"]["customers"],
                   "output_bytes": sum(p.stat().st_size for p in out.rglob("*") if p.is_file()),
                   "files": len(hashes[label])}
            result["runs"].append(run)
            print(json.dumps(run), f"({time.time() - t0:.0f} s)", flush=True)
            if not args.keep:
                shutil.rmtree(out)
        if "base" in hashes:
            differ = sorted(k for k in hashes["base"].keys() | hashes["branch"].keys()
                            if hashes["base"].get(k) != hashes["branch"].get(k))
            result["identical"][preset] = {"files": len(hashes["branch"]), "differ": differ,
                                           "sha256": hashes["branch"]}
        wanted = {"branch": args.profile, "base": args.profile_base}
        profiled = [v for v in versions if wanted[v[0]]]
        for label, src in profiled:
            out = args.work / f"{preset}_{label}_profile"
            shutil.rmtree(out, ignore_errors=True)
            rows_file = args.work / f"{preset}_{label}_profile.json"
            _run_child(src, str(profile_file), [preset, str(args.seed), str(out), str(rows_file)], timed=False)
            result["profiles"][f"{preset}/{label}"] = json.loads(rows_file.read_text())
            print(f"profiled {preset}/{label}", flush=True)
            shutil.rmtree(out, ignore_errors=True)
    write_results(result, args.out, _markdown(result))
    print(f"wrote {args.out.with_suffix('.json')} and .md")
    return 0


def write_results(result: dict, out: Path, markdown: str) -> None:
    """A bench's results: ``OUT.json`` (``result``) and ``OUT.md`` (``markdown``)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown)


def _markdown(r: dict) -> str:
    lines = [f"# Generation: time, peak memory, identical output (seed {r['seed']})", "",
             f"Branch `{r['branch_commit']}`" + (f" against base `{r['base_rev']}`" if r["base_rev"] else "")
             + f"; `/usr/bin/time -v` of `retail-lift generate --quiet`, one generation at a time, {r['cpus']} CPUs "
             "shared with other jobs (load average before/after each run below: times are upper bounds). "
             f"Target: peak at most {r['target_peak_gib']:g} GiB at large.", "",
             "| preset | version | events | wall | CPU | peak RSS | load before/after | output |",
             "|---|---|---:|---:|---:|---:|---|---:|"]
    for x in r["runs"]:
        lines.append(f"| {x['preset']} | {x['version']} | {x['events']:,} | {x['wall_seconds']:.0f} s | "
                     f"{x['cpu_percent']} | {x['peak_rss_gib']:.2f} GiB | {x['load_before']:.1f} / "
                     f"{x['load_after']:.1f} | {x['output_bytes'] / 1024 ** 2:,.0f} MiB |")
    if r["identical"]:
        lines += ["", "Output identity (sha256 of every file under `raw/` and `truth/`, and `world.json`):", ""]
        for preset, d in r["identical"].items():
            verdict = "byte-identical" if not d["differ"] else f"**differ: {', '.join(d['differ'])}**"
            lines.append(f"- {preset}: {d['files']} files, {verdict}")
    for key, rows in r["profiles"].items():
        lines += ["", f"## Stepwise profile: {key}", "",
                  "Peak RSS per step (`VmHWM` reset at its start; a table written inside a step counts in the "
                  "step's peak) and RSS after it; its own run, in a profiling process.", "",
                  "| step | seconds | RSS before | peak | RSS after |", "|---|---:|---:|---:|---:|"]
        for x in rows:
            lines.append(f"| {x['step']} | {x['seconds']} | {x['rss_before_gib']:.2f} GiB | "
                         f"{x['peak_gib']:.2f} GiB | {x['rss_after_gib']:.2f} GiB |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
