"""(thirty-eighth session) Does the critic's learnt head tell a harmless graze from a costly one?
`grazes.py`'s states, with the shipped critic stepped along the proposer's unshielded run: for
each grazing base motion (the footprint floor applies), the head's own risk (the graph's
``sigmoid``, before the floor raises it) and the critic's risk beside the motion's exact
one-step cost (the rows of `grazes.py` with ``head`` and ``risk`` added; the committed
`ghead_*.jsonl.gz` were written before the two scripts shared their loop and hold only
``episode, motion, cost, head, risk, proposed``).

    python docs/results/longtail_val/graze_head.py BUNDLE EPISODES STEPS OUT.jsonl [I,J,...]
"""

import onnx
import onnxruntime as ort
from grazes import Grazes, main

from safevla_core.safety_critic import SafetyCritic

CRITIC = "models/safety-critic"
HEAD = "sigmoid"  # the learnt head's risk; critic/risk_before_guard = max(it, the floor)


class Tap:
    """The critic's session on its own graph (with the output it adds,
    :meth:`SafetyCritic._with_risk_before_guard`), also handing out the head's risk (kept in
    ``last``)."""

    def __init__(self, critic: SafetyCritic) -> None:
        graph = (critic.path / critic.manifest.graph_file).read_bytes()
        model = onnx.load_from_string(critic._with_risk_before_guard(graph))
        model.graph.output.append(
            onnx.helper.make_tensor_value_info(HEAD, onnx.TensorProto.FLOAT, None)
        )
        self.s = ort.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        self.actions = len(critic.manifest.actions)
        self.last = None

    def run(self, outs, feed):
        res = self.s.run([*outs, HEAD], feed)
        self.last = res[-1][0].reshape(self.actions, -1)
        return res[:-1]


class HeadGrazes(Grazes):
    """:class:`grazes.Grazes` with the critic stepped along: each row also has its head's and
    its own risk for the motion."""

    def __init__(self, agent, env, out) -> None:
        super().__init__(agent, env, out)
        self.critic = SafetyCritic(CRITIC)
        self.tap = self.critic.session = Tap(self.critic)
        self.verdict = None

    def reset(self, seed: int) -> None:
        super().reset(seed)
        self.critic.reset()

    def observe(self, obs, scan, things) -> None:
        self.verdict = self.critic.step(
            obs["nav_rgb"],
            self.last,
            obs["bump"],
            scan,
            obs["proprio"],
            things,
            holding=False,
            wrist_yaw=float(obs["wrist_yaw"]),
        )

    def fields(self, a: int) -> dict:
        return dict(
            head=[float(x) for x in self.tap.last[a]],
            risk=[float(x) for x in self.verdict.risk[a]],
        )


if __name__ == "__main__":
    main(HeadGrazes)
