"""ONNX Runtime execution of a model bundle: preprocessing, instruction embedding, history.

Per step (batch 1)::

    x_t = (resize(frame) * scale - mean) / std                 # the bundle's image spec
    logits, probs, V_r, V_c, Q_c, cache' = graph(x_t, e(instr), a_{t-1}, holding, cache
                                                 [, bump][, proprio][, explored])

(``bump``: the motion feedback of the last action, blocked and collided, for a bundle whose
graph takes it: :attr:`PolicyRuntime.takes_bump`; ``proprio``: the arm's joint state, lift
height and extension in metres: :attr:`PolicyRuntime.takes_proprio`; ``explored``: the explored
map around the robot, :data:`safevla_core.actions.EXPLORED_SHAPE`:
:attr:`PolicyRuntime.takes_explored`.)

Everything comes from the bundle's manifest: the graph file, the input and output names the
graph is fed and read by, the image spec (:func:`safevla_core.image_preprocessing.preprocess_rgb`,
the same path the trainer and the perception node use), the instruction encoder (refused if it
is not the one this runtime provides) and the history cache shape.

Only the newest frame is encoded; the graph's per-layer cache carries the last K-1 steps, so a
step costs O(1) in the episode length. :meth:`PolicyRuntime.reset` starts a new episode. Any NaN
or Inf output raises :class:`PolicyOutputError` (the monitor turns it into a safe stop).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from safevla_core.action_choice import GREEDY, choose_action
from safevla_core.actions import (
    BUMP_FIELDS,
    EXPLORED_SHAPE,
    PROPRIO_FIELDS,
    check_bump,
    check_explored,
    check_proprio,
)
from safevla_core.bundle import Bundle, BundleError, load_bundle
from safevla_core.bundle_manifest import BUMP_INPUT, EXPLORED_INPUT, PROPRIO_INPUT, EncoderSpec
from safevla_core.image_preprocessing import preprocess_rgb
from safevla_core.instruction_encoder import ENCODER_DIM, ENCODER_NAME, InstructionEncoder

DEFAULT_PROVIDERS = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "CPUExecutionProvider",
)
_SHORT = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}


class PolicyOutputError(RuntimeError):
    """The graph produced a non-finite output; the message names the output."""


@dataclass(frozen=True)
class PolicyStep:
    """Outputs of one step.

    Attributes:
        probs: (A,) action probabilities (softmax of logits).
        logits: (A,) action logits.
        value: V_r(s), predicted discounted return.
        cost_value: V_c(s), predicted discounted cost.
        cost_q: (A, C) predicted cost Q_c(s, a, k) per action a and cost category k.
        action_names: the bundle's action names (index order).
        cost_categories: the bundle's cost categories (column order of ``cost_q``).
    """

    probs: np.ndarray
    logits: np.ndarray
    value: float
    cost_value: float
    cost_q: np.ndarray
    action_names: tuple[str, ...]
    cost_categories: tuple[str, ...]

    @property
    def cost_q_total(self) -> np.ndarray:
        """(A,) predicted cost per action summed over categories."""
        return self.cost_q.sum(axis=1)

    @property
    def greedy_action(self) -> int:
        """Index of the most probable action."""
        return choose_action(self.probs, GREEDY)


def check_encoder(spec: EncoderSpec, bundle_id: str) -> None:
    """The bundle's instruction encoder must be the one :class:`InstructionEncoder` provides.

    Raises:
        BundleError: naming the encoder the bundle needs.
    """
    if (spec.name, spec.dim, spec.normalize) != (ENCODER_NAME, ENCODER_DIM, True):
        raise BundleError(
            f"bundle {bundle_id} needs the instruction encoder {spec.name!r} (dim {spec.dim}, "
            f"normalize {spec.normalize}, package {spec.package!r}); this runtime provides "
            f"{ENCODER_NAME!r} (dim {ENCODER_DIM}, normalized): re-export the bundle with it"
        )


def resolve_providers(requested: list[str] | tuple[str, ...] | None) -> list[str]:
    """Requested providers (short names 'tensorrt'/'cuda'/'cpu' allowed) that this ONNX Runtime
    build offers, in order, always ending with CPU.

    Raises:
        ValueError: on an unknown provider name.
    """
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    out = []
    for p in requested or DEFAULT_PROVIDERS:
        full = _SHORT.get(p.lower(), p) if isinstance(p, str) else p
        if not isinstance(full, str) or not full.endswith("ExecutionProvider"):
            raise ValueError(
                f"unknown ONNX Runtime provider {p!r}; use tensorrt, cuda or cpu "
                "(or a full name like CUDAExecutionProvider)"
            )
        if full in available and full not in out:
            out.append(full)
    if "CPUExecutionProvider" not in out:
        out.append("CPUExecutionProvider")
    return out


class PolicyRuntime:
    """Runs a bundle's policy graph step by step for one robot (batch 1).

    Args:
        bundle: a loaded :class:`Bundle` or the bundle folder path.
        providers: preferred providers, best first; unavailable ones are skipped and CPU is the
            last resort. :attr:`provider` says which one runs.
        intra_op_threads: ONNX Runtime intra-op threads (1 is best for batch 1 on CPU).
        encoder: instruction encoder to share between runtimes (one is created if None).
        verify_key: PEM public key a bundle given as a path must be signed with
            (:mod:`safevla_core.signing`); None accepts unsigned bundles.
    """

    def __init__(
        self,
        bundle: Bundle | str | os.PathLike,
        providers: list[str] | tuple[str, ...] | None = None,
        intra_op_threads: int = 1,
        encoder: InstructionEncoder | None = None,
        verify_key: str | os.PathLike | None = None,
    ) -> None:
        if isinstance(bundle, Bundle):
            self.bundle = bundle
        else:
            self.bundle = load_bundle(bundle, verify_key=verify_key)
        check_encoder(self.bundle.instruction_encoder, self.bundle.bundle_id)
        self.session, self.provider_errors = _open_session(
            self.bundle, resolve_providers(providers), intra_op_threads
        )
        self.provider = self.session.get_providers()[0]
        # The graph is fed and read by the names its manifest records (format order).
        self._inputs = self.bundle.graph.input_names
        # the graph takes the motion feedback of the last action (``bump``, the last input)
        self.takes_bump = self.bundle.graph.takes_bump
        # ... and the arm's joint state (``proprio``, after ``bump``)
        self.takes_proprio = self.bundle.graph.takes_proprio
        # ... and the explored map (``explored``, last)
        self.takes_explored = self.bundle.graph.takes_explored
        self._outputs = self.bundle.graph.output_names
        hist = self.bundle.history
        self._none_action = hist.prev_action_none
        self._cache_shape = (hist.num_layers, 1, hist.context_length - 1, hist.d_model)
        self.encoder = encoder or InstructionEncoder()
        self.reset()

    def reset(self) -> None:
        """Start a new episode: empty history, no previous action, step counter 0."""
        self._cache = np.zeros(self._cache_shape, np.float32)
        self._cache_mask = np.zeros((1, self._cache_shape[2]), np.float32)
        self._prev_action = self._none_action
        self.steps = 0

    def record_action(self, index: int) -> None:
        """Tell the runtime which action was actually executed (it may differ from the proposal
        when the monitor vetoes); the next step is conditioned on it."""
        if not 0 <= int(index) < len(self.bundle.action_names):
            raise ValueError(
                f"action index {index} out of range 0..{len(self.bundle.action_names) - 1}"
            )
        self._prev_action = int(index)

    def step(
        self,
        frame: np.ndarray,
        instruction: str,
        holding: bool = False,
        prev_action: int | None = None,
        bump=None,
        proprio=None,
        explored=None,
    ) -> PolicyStep:
        """Run one step on an RGB uint8 frame and advance the history.

        Args:
            frame: (H, W, 3) uint8 RGB camera frame (any size; resized per the bundle).
            instruction: the task instruction (embedded once per distinct text).
            holding: whether the gripper holds an object.
            prev_action: executed previous action; defaults to the last :meth:`record_action`
                (or "none" at episode start).
            bump: the motion feedback of the last executed action, (blocked, collided) as
                0/1 (:data:`~safevla_core.actions.BUMP_FIELDS`; zeros at episode start).
                Required when the bundle takes it (:attr:`takes_bump`), ignored otherwise.
            proprio: the arm's joint state, (lift height, arm extension) in metres
                (:data:`~safevla_core.actions.PROPRIO_FIELDS`). Required when the bundle takes
                it (:attr:`takes_proprio`), ignored otherwise.
            explored: the explored map around the robot (:data:`~safevla_core.actions.
                EXPLORED_SHAPE`, uint8 0..255 or float shares in [0, 1]). Required when the
                bundle takes it (:attr:`takes_explored`), ignored otherwise.

        Raises:
            ValueError: the bundle takes the motion feedback and ``bump`` is missing or not two
                finite values in [0, 1], or it takes the joint state and ``proprio`` is missing
                or not two finite values in [0, 3] m, or it takes the explored map and
                ``explored`` is missing, of another shape or out of range.
        """
        if prev_action is not None:
            self.record_action(prev_action)
        values = (
            preprocess_rgb(frame, self.bundle.image)[None],
            self.encoder.embed(instruction)[None],
            np.array([self._prev_action], np.int64),
            np.array([1.0 if holding else 0.0], np.float32),
            self._cache,
            self._cache_mask,
        )
        if self.takes_bump:
            values += (check_bump(bump, self.bundle.bundle_id)[None],)
        if self.takes_proprio:
            values += (check_proprio(proprio, self.bundle.bundle_id)[None],)
        if self.takes_explored:
            values += (check_explored(explored, self.bundle.bundle_id)[None],)
        got = self.session.run(list(self._outputs), dict(zip(self._inputs, values)))
        for n, v in zip(self._outputs, got):
            if not np.all(np.isfinite(v)):
                raise PolicyOutputError(
                    f"policy output {n!r} contains NaN/Inf at step {self.steps} of bundle "
                    f"{self.bundle.bundle_id}; the model or its input is broken - stop the robot"
                )
        logits, probs, value, cost_value, cost_q, self._cache, self._cache_mask = got
        self.steps += 1
        return PolicyStep(
            probs=probs[0],
            logits=logits[0],
            value=float(value[0]),
            cost_value=float(cost_value[0]),
            cost_q=cost_q[0],
            action_names=self.bundle.action_names,
            cost_categories=self.bundle.cost_categories,
        )


def _open_session(bundle: Bundle, chain: list[str], intra_op_threads: int):
    """(ONNX Runtime session of the bundle's graph on the first provider of ``chain`` that
    starts, errors of those that did not).

    Raises:
        RuntimeError: no provider starts.
        BundleError: the graph's inputs or outputs (names, element types, sizes) are not the
            ones its manifest records, or not what the runtime feeds per the manifest.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(intra_op_threads)
    opts.inter_op_num_threads = 1
    errors = []
    graph = bundle.policy_bytes()  # the verified bytes, not a second read of the file
    for i, _ in enumerate(chain):
        try:
            session = ort.InferenceSession(graph, sess_options=opts, providers=chain[i:])
            break
        except Exception as exc:  # a GPU provider may fail to initialise; fall back
            errors.append(f"{chain[i]}: {exc}")
    else:
        raise RuntimeError(f"cannot start ONNX Runtime on {chain}: {errors}")
    for part, want, got in (
        ("inputs", bundle.graph.input_names, session.get_inputs()),
        ("outputs", bundle.graph.output_names, session.get_outputs()),
    ):
        names = sorted(t.name for t in got)
        if names != sorted(want):
            raise BundleError(
                f"{bundle.policy_path}: the graph's {part} {names} are not the ones bundle.json "
                f"records {sorted(want)}; re-export the bundle"
            )
    _check_graph_tensors(bundle, session)
    return session, errors


# ONNX Runtime's element type names -> the manifest's dtype names.
_ORT_DTYPES = {"tensor(float)": "float32", "tensor(int64)": "int64"}


def expected_io(bundle: Bundle) -> dict[str, tuple[str, tuple]]:
    """dtype and shape (batch 1) of every tensor the runtime feeds or reads, derived from the
    manifest's image spec, encoder, history and action space (None = any size)."""
    hist, img = bundle.history, bundle.image
    k1, n_act = hist.context_length - 1, len(bundle.action_names)
    cache = ("float32", (hist.num_layers, 1, k1, hist.d_model))
    return {
        "image": ("float32", (1, 3, img.height, img.width)),
        "instruction": ("float32", (1, bundle.instruction_encoder.dim)),
        "prev_action": ("int64", (1,)),
        "holding": ("float32", (1,)),
        "cache": cache,
        "cache_mask": ("float32", (1, k1)),
        "logits": ("float32", (1, n_act)),
        "probs": ("float32", (1, n_act)),
        "value": ("float32", (1,)),
        "cost_value": ("float32", (1,)),
        "cost_q": ("float32", (1, n_act, len(bundle.cost_categories))),
        "cache_out": cache,
        "cache_mask_out": ("float32", (1, k1)),
        BUMP_INPUT: ("float32", (1, len(BUMP_FIELDS))),
        PROPRIO_INPUT: ("float32", (1, len(PROPRIO_FIELDS))),
        EXPLORED_INPUT: ("float32", (1, *EXPLORED_SHAPE)),
    }


def _dims_conflict(graph: list, want: tuple) -> bool:
    """Ranks differ, or a dimension fixed in both differs (symbolic dims match anything)."""
    if len(graph) != len(want):
        return True
    return any(isinstance(g, int) and isinstance(w, int) and g != w for g, w in zip(graph, want))


def _check_graph_tensors(bundle: Bundle, session) -> None:
    """Element types and fixed sizes of the graph's tensors against the manifest's
    ``graph`` entry and against what the runtime will feed and read, so a mismatch is refused
    at load instead of surfacing as an ONNX Runtime error at the first frame.

    Raises:
        BundleError: naming the tensor, what the graph has and what the manifest says.
    """
    recorded = {t.name: t for t in (*bundle.graph.inputs, *bundle.graph.outputs)}
    fed = expected_io(bundle)
    for t in (*session.get_inputs(), *session.get_outputs()):
        dtype = _ORT_DTYPES.get(t.type, t.type)
        shape = list(t.shape)
        spec = recorded[t.name]
        want_dtype, want_shape = fed[t.name]
        for source, d, s in (
            ("bundle.json's graph entry", spec.dtype, tuple(spec.shape)),
            ("the manifest's image/history/encoder/action spec", want_dtype, want_shape),
        ):
            if dtype != d or _dims_conflict(shape, s):
                raise BundleError(
                    f"{bundle.policy_path}: graph tensor {t.name!r} is {dtype} {shape}, but "
                    f"{source} needs {d} {list(s)}; re-export the bundle"
                )
