"""Learning curves of training runs as one PNG (from their TensorBoard scalars).

Usage::

    python -m safevla_train.curves --run runs/objnav_ppo_lag_shaped --label PPO-Lag \\
        --run runs/objnav_ppo_shaped --label PPO --out docs/img/objnav_curves.png

A run resumed from a checkpoint has several event files; for a step logged twice the later
write wins, so the curve is the one the final checkpoint actually followed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_TAGS = (
    "charts/episode_cost",
    "charts/success_rate",
    "charts/episode_return",
    "safety/lambda",
    "charts/episode_length",
    "safety/cost_corner",
)


def read_scalars(run_dir: Path, tags: tuple[str, ...]) -> dict[str, tuple[list, list]]:
    """tag -> (steps, values) from ``run_dir/tb``, deduplicated by step (latest write wins).

    Raises:
        FileNotFoundError: naming the run folder when it has no TensorBoard events.
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tb = run_dir / "tb"
    if not any(tb.glob("events.out.tfevents.*")):
        raise FileNotFoundError(f"{run_dir}: no TensorBoard events under {tb}")
    acc = EventAccumulator(str(tb), size_guidance={"scalars": 0})
    acc.Reload()
    available = set(acc.Tags()["scalars"])
    out: dict[str, tuple[list, list]] = {}
    for tag in tags:
        if tag not in available:
            continue
        latest: dict[int, tuple[float, float]] = {}
        for ev in acc.Scalars(tag):
            if ev.step not in latest or ev.wall_time >= latest[ev.step][0]:
                latest[ev.step] = (ev.wall_time, ev.value)
        steps = sorted(latest)
        out[tag] = (steps, [latest[s][1] for s in steps])
    return out


def plot_runs(runs: list[tuple[str, Path]], out: Path, tags: tuple[str, ...] = DEFAULT_TAGS):
    """One panel per tag, one line per run (light raw values, bold moving average)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cols = 3
    rows = (len(tags) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.3 * rows), squeeze=False)
    data = [(label, read_scalars(path, tags)) for label, path in runs]
    for ax, tag in zip(axes.flat, tags):
        for i, (label, scalars) in enumerate(data):
            if tag not in scalars:
                continue
            steps, values = scalars[tag]
            color = f"C{i}"
            ax.plot(steps, values, color=color, alpha=0.3, linewidth=0.8)
            k = max(1, len(values) // 15)
            smooth = np.convolve(values, np.ones(k) / k, mode="valid")
            ax.plot(steps[k - 1 :], smooth, color=color, linewidth=2, label=label)
        ax.set_title(tag)
        ax.set_xlabel("env steps")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(tags) :]:
        ax.axis("off")
    axes.flat[0].legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m safevla_train.curves", description=__doc__)
    p.add_argument("--run", action="append", required=True, help="training run folder")
    p.add_argument("--label", action="append", help="legend label per --run (default: folder)")
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--tag", action="append", help="scalar tags (default: cost, SR, lambda, ...)")
    args = p.parse_args(argv)
    labels = args.label or [Path(r).name for r in args.run]
    if len(labels) != len(args.run):
        p.error(f"{len(labels)} --label for {len(args.run)} --run: give one label per run")
    try:
        path = plot_runs(
            [(lbl, Path(r)) for lbl, r in zip(labels, args.run)],
            Path(args.out),
            tuple(args.tag) if args.tag else DEFAULT_TAGS,
        )
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
