"""'My photos' accuracy at event scale: ``findme eval event`` on all of event-dev (prints JSON).

The protocol is ``../shared/data/event-dev/README.md`` (276 attendees register with their
first photo; every other photo, 1,000 one-photo guests included, is uploaded, digested and
clustered; ``GET /get`` is scored per attendee). Runs the default settings, then, for the
comparison, DBSCAN persons (``--cluster-method dbscan``) and a live event whose last 20 % of
photos arrive after clustering (digest places their new faces). Each run is its own
process. About 3 minutes per run on 2 vCPUs.

    .venv/bin/python benchmarks/event_accuracy.py [--runs default,dbscan,incremental]
        [--images DIR --labels CSV] [--attendees N --guests M]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EVENT_DEV = REPO.parent / "shared" / "data" / "event-dev"
RUNS: dict[str, list[str]] = {
    "default": [],
    "dbscan": ["--cluster-method", "dbscan"],
    "incremental": ["--incremental-share", "0.2"],
}


def run(name: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [str(REPO / ".venv" / "bin" / "findme"), "eval", "event", str(args.images)]
    cmd += [str(args.labels), "--json", *RUNS[name]]
    if args.attendees:
        cmd += ["--attendees", str(args.attendees)]
    if args.guests is not None:
        cmd += ["--guests", str(args.guests)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINDME_")}
    env["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        return {"run": name, "error": done.stderr[-2000:]}
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    report["run"] = name
    report["wall_s"] = round(time.perf_counter() - t, 1)
    report["load_avg_1m"] = round(os.getloadavg()[0], 2)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", default="default,dbscan,incremental")
    parser.add_argument("--images", type=Path, default=EVENT_DEV / "images")
    parser.add_argument("--labels", type=Path, default=EVENT_DEV / "labels.csv")
    parser.add_argument("--attendees", type=int)
    parser.add_argument("--guests", type=int)
    args = parser.parse_args()
    results = []
    for name in (n.strip() for n in args.runs.split(",")):
        if name:
            results.append(run(name, args))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print(json.dumps({"benchmark": "event_accuracy", "results": results}))
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
