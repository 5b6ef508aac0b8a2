"""Comparison against a baseline, and the markdown + PNG report of an evaluation.

Relative change against the baseline, as the paper reports it (same task and perturbation; the
baseline's result with the same shield setting if it has one, else its unshielded one; the
baseline's own shielded run is compared with its unshielded run):

* ``cost_change_pct``     = 100 · (CC − CC_base) / CC_base   (None when CC_base = 0)
* ``success_change_pts``  = 100 · (SR − SR_base)             (percentage points)
* ``cvar90_change_pct``   = 100 · (CVaR90 − CVaR90_base) / CVaR90_base (None when 0)

With a proposer run both shielded and unshielded (``--shield both``), the tables end with the
shield's effect paired by episode, against the shield's acceptance targets
(:mod:`safevla_eval.shield_effect`).

Plots (matplotlib, Agg backend): per-episode cost histogram per task, success rate against
mean cost per policy (95% interval bars), and mean cost per category.

:class:`ResultsWriter` writes results as the run goes: each finished episode is one line of
``<results>.partial.jsonl``; at the end the full JSON is written atomically and the partial
file removed, so a run that dies keeps every episode it finished.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from safevla_eval.metrics import BOOTSTRAP_SAMPLES, OUTCOMES
from safevla_eval.shield_effect import markdown_shield_effects, policy_name, shield_effects

MINUS = "\u2212"


def _label(r: dict) -> str:
    return policy_name(r["bundle"]) + (" +shield" if r["shield"] else "")


def _pct(x: float, base: float) -> float | None:
    return None if base == 0 else 100.0 * (x - base) / base


def _find_baseline(results: list[dict], baseline: str, r: dict) -> dict | None:
    """Same task and perturbation; same shield setting, else unshielded. The baseline's own
    shielded run is compared with its unshielded one (the effect of the shield)."""
    same = [
        b
        for b in results
        if b["bundle"] == baseline
        and b["task"] == r["task"]
        and b["perturb"] == r["perturb"]
        and b is not r
    ]
    for b in same:
        if b["shield"] == r["shield"] and r["bundle"] != baseline:
            return b
    return next((b for b in same if not b["shield"]), None)


def compare(results: list[dict], baseline: str) -> list[dict]:
    """Relative change of every result against ``baseline`` (see the module docstring).

    Raises:
        ValueError: ``baseline`` names no evaluated policy.
    """
    names = sorted({r["bundle"] for r in results})
    if baseline not in names:
        raise ValueError(
            f"baseline {baseline!r} is not among the evaluated policies {names}; "
            "--baseline must repeat one --bundle value"
        )
    rows = []
    for r in results:
        b = _find_baseline(results, baseline, r)
        if b is None:
            continue
        m, mb = r["metrics"], b["metrics"]
        rows.append(
            {
                "bundle": r["bundle"],
                "task": r["task"],
                "shield": r["shield"],
                "perturb": r["perturb"],
                "baseline": baseline,
                "baseline_shield": b["shield"],
                "cost_change_pct": _pct(m["cost_mean"], mb["cost_mean"]),
                "success_change_pts": 100.0 * (m["success_rate"] - mb["success_rate"]),
                "cvar90_change_pct": _pct(m["cvar90_cost"], mb["cvar90_cost"]),
            }
        )
    return rows


def _signed(x: float, unit: str) -> str:
    s = f"{abs(x):.1f}{unit}"
    return (MINUS if x < 0 else "+") + s


def describe_change(row: dict) -> str:
    """``"cost −83.6%, success +3.9 points"``."""
    cost = (
        "cost n/a (baseline cost 0)"
        if row["cost_change_pct"] is None
        else f"cost {_signed(row['cost_change_pct'], '%')}"
    )
    return f"{cost}, success {_signed(row['success_change_pts'], ' points')}"


def _fmt(x, nd: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{nd}f}"


def _ci(m: dict, key: str, nd: int = 2) -> str:
    ci = m.get("ci95", {}).get(key)
    return "" if not ci else f" [{ci[0]:.{nd}f}, {ci[1]:.{nd}f}]"


def markdown_tables(doc: dict, baseline: str | None = None) -> str:
    """Side-by-side metric table, per-category table and (with a baseline) the comparison."""
    results = doc["results"]
    lines = [
        "| policy | task | perturb | n | SR | CC | CVaR90 | CC>10 | SEL | SPL | length | "
        "collision | veto |",
        "|" + "---|" * 13,
    ]
    for r in results:
        m = r["metrics"]
        lines.append(
            f"| {_label(r)} | {r['task']} | {','.join(r['perturb']) or '-'} | {r['episodes']} "
            f"| {m['success_rate']:.3f}{_ci(m, 'success_rate')} "
            f"| {m['cost_mean']:.2f}{_ci(m, 'cost_mean')} | {m['cvar90_cost']:.2f} "
            f"| {m['share_cost_gt_10']:.3f} | {_fmt(m['sel'])} | {_fmt(m['spl'])} "
            f"| {m['episode_length_mean']:.1f} | {m['collision_rate']:.3f} "
            f"| {_fmt(m['veto_rate'])} |"
        )
    cats = list(results[0]["metrics"]["cost_by_category"]) if results else []
    lines += [
        "",
        "Mean episode cost per category:",
        "",
        "| policy | task | " + " | ".join(cats) + " |",
        "|" + "---|" * (len(cats) + 2),
    ]
    for r in results:
        by = r["metrics"]["cost_by_category"]
        lines.append(
            f"| {_label(r)} | {r['task']} | " + " | ".join(f"{by[c]:.2f}" for c in cats) + " |"
        )
    measured = [r for r in results if r["metrics"].get("outcomes")]
    if measured:
        lines += [
            "",
            "How the episodes ended (missed end: the success check held in a state the policy "
            "saw, but it did not end there; false end: `end` where it never held; not found: "
            "the step limit, the check never held):",
            "",
            "| policy | task | perturb | success | missed end | false end | not found |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in measured:
            o = r["metrics"]["outcomes"]
            lines.append(
                f"| {_label(r)} | {r['task']} | {','.join(r['perturb']) or '-'} | "
                + " | ".join(f"{o[k]:.2f}" for k in OUTCOMES)
                + " |"
            )
    if baseline:
        lines += [
            "",
            f"Against the baseline `{baseline}`:",
            "",
            "| policy | task | change | CVaR90 change |",
            "|---|---|---|---|",
        ]
        for row in compare(results, baseline):
            cv = row["cvar90_change_pct"]
            cv_s = "n/a" if cv is None else _signed(cv, "%")
            lines.append(
                f"| {row['bundle']}{' +shield' if row['shield'] else ''} "
                f"| {row['task']} | {describe_change(row)} | {cv_s} |"
            )
    samples = doc.get("config", {}).get("bootstrap_samples", BOOTSTRAP_SAMPLES)
    effects = markdown_shield_effects(shield_effects(results, results, samples=samples))
    if effects:
        lines += ["", effects.rstrip("\n")]
    return "\n".join(lines) + "\n"


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_histograms(results: list[dict], out: Path) -> list[str]:
    """One per-episode cost histogram per task, every policy overlaid."""
    import matplotlib.pyplot as plt

    files = []
    for task in sorted({r["task"] for r in results}):
        rs = [r for r in results if r["task"] == task]
        costs = [[rec["cost"] for rec in r["records"]] for r in rs]
        top = max([1.0] + [max(c) for c in costs if c])
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.hist(costs, bins=np.linspace(0, top, 21), label=[_label(r) for r in rs])
        ax.set(xlabel="episode cost", ylabel="episodes", title=f"{task}: per-episode cost")
        ax.legend(fontsize=7)
        files.append(f"cost_hist_{task}.png")
        _save(fig, out / files[-1])
    return files


def _plot_scatter(results: list[dict], out: Path) -> str:
    """Success rate against mean cost, 95% interval bars."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for r in results:
        m = r["metrics"]
        ci_c, ci_s = m["ci95"].get("cost_mean"), m["ci95"].get("success_rate")
        xerr = None if not ci_c else [[m["cost_mean"] - ci_c[0]], [ci_c[1] - m["cost_mean"]]]
        yerr = None if not ci_s else [[m["success_rate"] - ci_s[0]], [ci_s[1] - m["success_rate"]]]
        ax.errorbar(
            m["cost_mean"],
            m["success_rate"],
            xerr=xerr,
            yerr=yerr,
            fmt="o",
            capsize=3,
            label=f"{_label(r)} ({r['task']})",
        )
    ax.set(
        xlabel="mean episode cost (CC)",
        ylabel="success rate",
        ylim=(-0.05, 1.05),
        title="success vs. cost (95% bootstrap CI)",
    )
    ax.legend(fontsize=7)
    _save(fig, out / "success_vs_cost.png")
    return "success_vs_cost.png"


def _plot_categories(results: list[dict], out: Path) -> str:
    """Mean episode cost per category, one bar group per category."""
    import matplotlib.pyplot as plt

    cats = list(results[0]["metrics"]["cost_by_category"])
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / max(1, len(results))
    for k, r in enumerate(results):
        vals = [r["metrics"]["cost_by_category"][c] for c in cats]
        ax.bar(np.arange(len(cats)) + k * width, vals, width, label=f"{_label(r)} ({r['task']})")
    ax.set_xticks(np.arange(len(cats)) + 0.4 - width / 2, cats, rotation=20, fontsize=8)
    ax.set(ylabel="mean cost per episode", title="cost by category")
    ax.legend(fontsize=7)
    _save(fig, out / "cost_by_category.png")
    return "cost_by_category.png"


def _plots(doc: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    results = doc["results"]
    return [
        *_plot_histograms(results, out),
        _plot_scatter(results, out),
        _plot_categories(results, out),
    ]


def write_report(doc: dict, out_dir: str | Path, baseline: str | None = None) -> Path:
    """Write ``report.md``, the PNG plots and ``results.json`` into ``out_dir``.

    Returns:
        path of report.md.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = _plots(doc, out)
    cfg = doc.get("config", {})
    from safevla_eval.suite import files_label

    source = files_label(cfg.get("episodes_file")) or "shipped validation sets"
    if cfg.get("count") is not None:
        source += f" ({cfg['count']} drawn per task)"
    text = [
        "# Safety evaluation",
        "",
        f"Policies: {', '.join(cfg.get('policies', []))}; tasks: "
        f"{', '.join(cfg.get('tasks', []))}; shield: {cfg.get('shield')}; perturbations: "
        f"{', '.join(cfg.get('perturb', [])) or 'none'}; step limit: {cfg.get('max_steps')}; "
        f"seed: {cfg.get('seed')}; episodes: {source}.",
        "",
        "SR = success rate, CC = mean episode cost, CVaR90 = mean cost of the worst 10% of "
        "episodes, CC>10 = share of episodes with cost above 10; [..] = 95% percentile "
        "bootstrap interval over episodes.",
        "",
        markdown_tables(doc, baseline),
    ]
    text += [f"![{f}]({f})" for f in files]
    path = out / "report.md"
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    (out / "results.json").write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return path


def partial_path(path: str | Path) -> Path:
    """``results.json`` -> ``results.partial.jsonl`` (the episodes finished so far)."""
    p = Path(path)
    return p.with_name(p.name.removesuffix(".json") + ".partial.jsonl")


def write_json_atomic(path: str | Path, doc: dict) -> Path:
    """Write ``doc`` as indented JSON through a temporary file and a rename (never half a
    file)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, p)
    return p


class ResultsWriter:
    """Results written as the run goes.

    Args:
        path: the final results JSON; episodes go to :func:`partial_path` of it first.
        config: the run's config, the partial file's first line.
    """

    def __init__(self, path: str | Path, config: dict | None = None) -> None:
        self.path = Path(path)
        self.partial = partial_path(self.path)
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.partial, "w", encoding="utf-8")  # noqa: SIM115 (held open)
        self.records = 0
        self._line({"config": config or {}})

    def _line(self, obj: dict) -> None:
        self._file.write(json.dumps(obj) + "\n")
        self._file.flush()  # on disk per episode: a crash loses at most the running one

    def record(self, header: dict, record: dict) -> None:
        """One finished episode: its group (policy, task, shield) and its record."""
        keys = ("bundle", "task", "shield", "perturb")
        self._line({**{k: header.get(k) for k in keys}, "record": record})
        self.records += 1

    def finish(self, doc: dict) -> Path:
        """Write the final JSON and remove the partial file."""
        self._file.close()
        write_json_atomic(self.path, doc)
        self.partial.unlink(missing_ok=True)
        return self.path

    def close(self) -> None:
        """Stop writing; an interrupted run keeps its partial file if it finished any
        episode."""
        if not self._file.closed:
            self._file.close()
            if self.records == 0:
                self.partial.unlink(missing_ok=True)
