"""The device runs' TensorBoard scalars, thinned (docs/training.md, nineteenth session).

.venv/bin/python docs/results/device_rl/curves.py RUNS_DIR   (holds ppo/ pen/ lag/ with tb/)
"""

import sys
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

TAGS = (
    "eval/success_rate",
    "eval/cost_mean",
    "safety/lambda",
    "charts/success_rate",
    "charts/episode_cost",
    "charts/env_steps_per_s",
)


def main() -> None:
    for run in ("ppo", "pen", "lag"):
        rows: dict[str, list] = {}
        for events in sorted((Path(sys.argv[1]) / run / "tb").glob("events.*")):
            acc = EventAccumulator(str(events))
            acc.Reload()
            for tag in acc.Tags()["scalars"]:
                rows.setdefault(tag, []).extend(
                    (e.step, round(e.value, 3)) for e in acc.Scalars(tag)
                )
        print("==", run)
        for tag in TAGS:
            if tag in rows:
                values = rows[tag]
                print(tag, values[:: max(1, len(values) // 12)], "last", values[-1])


if __name__ == "__main__":
    main()
