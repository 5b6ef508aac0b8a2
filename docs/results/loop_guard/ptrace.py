"""(thirty-first session) Per-step trace of shielded episodes of a policy bundle.

One token per step: the proposal (``mahead``, ``rleft``, ...), ``>`` and what ran instead when
the critic vetoed it (STOP: a safe stop), ``c`` it collided, ``b`` it was blocked, one ``$``
per cost unit; then the most frequent (proposal, executed, reason) vetoes.

    python docs/results/loop_guard/ptrace.py BUNDLE EPISODES CRITIC STEPS I[,I...]
"""

import collections

from episodes import for_each_job, run_watched

from safevla_core.actions import ACTIONS


def short(name: str) -> str:
    return name.replace("rotate_", "r").replace("move_", "m").replace("_small", "s")


def trace(env, agent, job) -> None:
    feedback = []

    def watch(a, step):
        out = step(a)
        info = out[5]
        feedback.append((info["collided"], not info["action_succeeded"], float(out[2])))
        return out

    rec, decisions = run_watched(env, agent, job, watch)
    print(
        f"== {job.index} {rec.episode_id} success {rec.success} len {rec.length} "
        f"cost {rec.cost} vetoes {rec.vetoes}"
    )
    tokens, vetoes = [], collections.Counter()
    for d, (collided, blocked, cost) in zip(decisions, feedback, strict=False):
        p = ACTIONS[d.proposed_action].name
        e = "STOP" if d.safe_stop else ACTIONS[int(d.executed_action)].name
        tok = short(p) + (">" + short(e) if d.critic_outcome else "")
        tokens.append(tok + "c" * collided + "b" * blocked + "$" * int(cost))
        if d.critic_outcome:
            vetoes[(p, e, d.reason[14:70])] += 1
    for k in range(0, len(tokens), 25):
        print(f"  {k:3d}: " + " ".join(tokens[k : k + 25]))
    for key, n in vetoes.most_common(6):
        print("   ", n, key)


if __name__ == "__main__":
    for_each_job(trace)
