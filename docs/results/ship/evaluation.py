"""Build the `evaluation` entry a shipped bundle embeds (`safevla export --evaluation FILE`)
from `safevla eval --json` results on the two unseen-seed sets.

    python docs/results/ship/evaluation.py --bundle-name objnav-ppo-lag --folder NAME \
        --set1 u1.json --set2 u2.json --date 2026-12-04 --out evaluation.json

``--folder`` is the folder name of the bundle inside each results file (the bundle may have
been evaluated under another path before it shipped); the recorded command names the
shipped path, ``models/<bundle-name>``. A results file of ``--shield both`` with a critic
(twenty-ninth session) gives the unshielded row as the entry and the shielded one under
``shielded``, with the critic it ran.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def entry(results: Path, folder: str, bundle_name: str, date: str) -> dict:
    data = json.loads(results.read_text())
    cfg = data["config"]
    mine = [r for r in data["results"] if Path(r["bundle"]).name == folder]
    rows = [r for r in mine if not r["shield"]]
    if len(rows) != 1:
        raise SystemExit(f"{results}: {len(rows)} unshielded results for bundle folder {folder!r}")
    row = rows[0]
    if cfg["sampling"] != "greedy" or cfg["skip_blocked"] or cfg["shield"] not in ("off", "both"):
        raise SystemExit(f"{results}: not a plain greedy evaluation")
    shielded = [r for r in mine if r["shield"]]
    command = (
        f"safevla eval --bundle models/{bundle_name} --episodes {cfg['episodes_file']} "
        f"--task {row['task']} --max-steps {cfg['max_steps']}"
    )
    return {
        "episodes_file": cfg["episodes_file"],
        "episodes": row["episodes"],
        "task": row["task"],
        "sampling": cfg["sampling"],
        "max_steps": cfg["max_steps"],
        "date": date,
        "command": command,
        "metrics": row["metrics"],
        **(
            {
                "shielded": {
                    "critic": cfg["critic"],
                    "command": f"{command} --shield on --critic {cfg['critic']}",
                    "metrics": shielded[0]["metrics"],
                }
            }
            if shielded and cfg.get("critic")
            else {}
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle-name", required=True)
    ap.add_argument("--folder", required=True)
    ap.add_argument("--set1", type=Path, required=True)
    ap.add_argument("--set2", type=Path, required=True)
    ap.add_argument("--date", required=True)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    ev = entry(a.set1, a.folder, a.bundle_name, a.date)
    ev["second_unseen_set"] = entry(a.set2, a.folder, a.bundle_name, a.date)
    a.out.write_text(json.dumps(ev, indent=1) + "\n")


if __name__ == "__main__":
    main()
