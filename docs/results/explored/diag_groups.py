"""Group the lines of docs/results/near_ties/diag_ties.py's output into the kinds of
disagreement of docs/training.md's table ("Near-ties, and where the learner disagrees"):

    .venv/bin/python docs/results/explored/diag_groups.py DIAG_LOG [DIAG_LOG ...]
"""

import re
import sys
from pathlib import Path

GROUPS = (
    ("agree", lambda s: s.startswith("agree")),
    (
        "teacher drives on, best heading ahead, learner turns",
        lambda s: "teacher ahead" in s and "best 0," in s,
    ),
    (
        "teacher drives on, best heading 30° off, learner turns",
        lambda s: "teacher ahead" in s and re.search(r"best -?1,", s),
    ),
    (
        "teacher turns, no progress ahead, learner drives on",
        lambda s: "learner ahead" in s and "<=0" in s,
    ),
    (
        "teacher turns, some progress ahead, learner drives on",
        lambda s: "learner ahead" in s and "<=0" not in s and "not steering" not in s,
    ),
    (
        "teacher turns right, learner left",
        lambda s: "teacher rotate_right, learner rotate_left" in s,
    ),
    (
        "teacher turns left, learner right",
        lambda s: "teacher rotate_left, learner rotate_right" in s,
    ),
    (
        "a look-around or sweep turn, learner drives on",
        lambda s: "not steering" in s and "learner move_ahead" in s,
    ),
    ("`end` would succeed, learner does not end", lambda s: "end would succeed" in s),
)


def groups(path: str) -> tuple[int, dict[str, float]]:
    total, out = 0, {name: 0 for name, _ in GROUPS}
    out["other"] = 0
    for line in Path(path).read_text().splitlines():
        if line.startswith("learner steps"):
            total = int(line.split()[2].rstrip(","))
            continue
        m = re.match(r"\s*(\d+) [0-9.]+ (.*)", line)
        if not m:
            continue
        n, what = int(m.group(1)), m.group(2)
        name = next((g for g, test in GROUPS if test(what)), "other")
        out[name] += n
    return total, {k: v / total for k, v in out.items()}


if __name__ == "__main__":
    tables = [groups(p) for p in sys.argv[1:]]
    print("| kind | " + " | ".join(sys.argv[1:]) + " |")
    print("|---|" + "---|" * len(tables))
    for name in [g for g, _ in GROUPS] + ["other"]:
        print(f"| {name} | " + " | ".join(f"{t[1][name]:.3f}" for t in tables) + " |")
    print("| learner steps | " + " | ".join(str(t[0]) for t in tables) + " |")
