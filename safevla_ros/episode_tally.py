"""What ``safevla run`` makes of the simulator's EpisodeStatus and the monitor's verdicts: one
:class:`EpisodeResult` per episode, and the summary it prints (per robot with ``--robots``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from safevla_core.monitor_types import critic_veto


@dataclass
class EpisodeResult:
    """What one episode did, from EpisodeStatus (ground truth) and SafetyVerdict."""

    episode_id: str
    instruction: str = ""
    steps: int = 0
    success: bool = False
    cost: float = 0.0
    vetoes: int = 0
    stops: int = 0
    done: bool = False
    rules: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        ok = "yes" if self.success else "no "
        return (
            f"episode {self.episode_id:<22} success {ok}  steps {self.steps:4d}  "
            f"cost {self.cost:6.1f}  vetoes {self.vetoes:3d}  stops {self.stops:3d}  "
            f"{self.instruction!r}"
        )


class Tally:
    """Assigns statuses and verdicts to episodes (verdicts go to the current episode)."""

    def __init__(self) -> None:
        self.episodes: list[EpisodeResult] = []

    @property
    def current(self) -> EpisodeResult | None:
        return self.episodes[-1] if self.episodes else None

    def on_status(self, msg) -> EpisodeResult | None:
        """Record an EpisodeStatus; returns the episode if this status finished it."""
        cur = self.current
        if cur is None or cur.episode_id != msg.episode_id or cur.done:
            if msg.done:
                return None  # the end of an episode we did not see start
            cur = EpisodeResult(msg.episode_id, msg.instruction)
            self.episodes.append(cur)
        cur.steps, cur.cost, cur.success = int(msg.step), float(msg.cumulative_cost), msg.success
        cur.done = bool(msg.done)
        return cur if cur.done else None

    def on_verdict(self, msg) -> None:
        cur = self.current
        if cur is None or cur.done or msg.proposal_sequence == 0:
            return  # watchdog repeats between episodes are not the policy's decisions
        cur.vetoes += int(critic_veto(msg.vetoed, msg.triggered_rule))
        cur.stops += int(msg.safe_stop)
        if msg.triggered_rule:
            cur.rules[msg.triggered_rule] = cur.rules.get(msg.triggered_rule, 0) + 1

    def finished(self) -> list[EpisodeResult]:
        return [e for e in self.episodes if e.done]


def summary(results: list[EpisodeResult]) -> str:
    """Success rate, mean cumulative cost, vetoes, stops and which rules fired."""
    n = len(results)
    if n == 0:
        return "no episode finished"
    rules: dict[str, int] = {}
    for r in results:
        for k, v in r.rules.items():
            rules[k] = rules.get(k, 0) + v
    return (
        f"summary: {n} episodes  success rate {sum(r.success for r in results) / n:.2f}  "
        f"mean cost {sum(r.cost for r in results) / n:.2f}  "
        f"vetoes {sum(r.vetoes for r in results)}  stops {sum(r.stops for r in results)}  "
        f"rules {rules or '{}'}"
    )


def summary_dict(results: list[EpisodeResult]) -> dict:
    """The JSON form of :func:`summary` (the evaluator's record field names)."""
    n = max(len(results), 1)
    return {
        "episodes": len(results),
        "success_rate": sum(r.success for r in results) / n,
        "cost_mean": sum(r.cost for r in results) / n,
        "vetoes": sum(r.vetoes for r in results),
        "stops": sum(r.stops for r in results),
    }
