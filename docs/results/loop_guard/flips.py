"""(thirty-first session) The episodes whose success differs between two runs on the same
episodes: FIRST's unshielded run (its shielded one with a third argument ``shielded``) and
SECOND's shielded one, with SECOND's critic counts.

    python docs/results/loop_guard/flips.py FIRST.json[.gz] SECOND.json[.gz] [shielded]
"""

import sys
from pathlib import Path

from compare import result


def records(path: str, shield: bool) -> list[dict]:
    return result(Path(path), shield)["records"]


def main() -> None:
    first = records(sys.argv[1], len(sys.argv) > 3 and sys.argv[3] == "shielded")
    second = records(sys.argv[2], True)
    lost = gained = 0
    for i, (a, b) in enumerate(zip(first, second, strict=True)):
        assert a["episode_id"] == b["episode_id"]
        if a["success"] != b["success"]:
            counts = b["extra"].get("critic", {})
            print(i, b["episode_id"], a["success"], "->", b["success"], b["length"], counts)
            lost += a["success"] and not b["success"]
            gained += b["success"] and not a["success"]
    print("lost", lost, "gained", gained)


if __name__ == "__main__":
    main()
