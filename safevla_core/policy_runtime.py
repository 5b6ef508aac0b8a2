"""ONNX Runtime execution of a model bundle: preprocessing, instruction embedding, history.

Per step (batch 1)::

    x_t = ((resize_area(frame) / 255) - mean) / std            # RGB, NCHW, float32
    logits, probs, V_r, V_c, Q_c, cache' = graph(x_t, e(instr), a_{t-1}, holding, cache)

Only the newest frame is encoded; the graph's per-layer cache carries the last K-1 steps, so a
step costs O(1) in the episode length. :meth:`PolicyRuntime.reset` starts a new episode. Any NaN
or Inf output raises :class:`PolicyOutputError` (the monitor turns it into a safe stop).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np

from safevla_core.bundle import Bundle, ImageSpec, load_bundle
from safevla_core.instruction_encoder import InstructionEncoder

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
        return int(np.argmax(self.probs))


def preprocess_rgb(frame: np.ndarray, spec: ImageSpec) -> np.ndarray:
    """RGB uint8 frame (H,W,3) -> normalised float32 (3,h,w) per the bundle's image spec.

    Raises:
        ValueError: naming the bad shape/dtype.
    """
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3:
        shape = getattr(frame, "shape", None)
        raise ValueError(f"frame must be an RGB array of shape (H, W, 3), got shape {shape}")
    if frame.dtype != np.uint8:
        raise ValueError(f"frame must be uint8 RGB (0..255), got dtype {frame.dtype}")
    if frame.shape[0] != spec.height or frame.shape[1] != spec.width:
        frame = cv2.resize(frame, (spec.width, spec.height), interpolation=cv2.INTER_AREA)
    x = frame.astype(np.float32) * np.float32(1.0 / 255.0)
    x = (x - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


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
    """

    def __init__(
        self,
        bundle: Bundle | str | os.PathLike,
        providers: list[str] | tuple[str, ...] | None = None,
        intra_op_threads: int = 1,
        encoder: InstructionEncoder | None = None,
    ) -> None:
        import onnxruntime as ort

        self.bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(intra_op_threads)
        opts.inter_op_num_threads = 1
        self.session = None
        errors = []
        chain = resolve_providers(providers)
        for i, _ in enumerate(chain):
            try:
                self.session = ort.InferenceSession(
                    str(self.bundle.policy_path), sess_options=opts, providers=chain[i:]
                )
                break
            except Exception as exc:  # a GPU provider may fail to initialise; fall back
                errors.append(f"{chain[i]}: {exc}")
        if self.session is None:
            raise RuntimeError(f"cannot start ONNX Runtime on {chain}: {errors}")
        self.provider = self.session.get_providers()[0]
        self.provider_errors = errors
        hist = self.bundle.history
        self._none_action = int(hist["prev_action_none"])
        self._cache_shape = (
            int(hist["num_layers"]),
            1,
            int(hist["context_length"]) - 1,
            int(hist["d_model"]),
        )
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
    ) -> PolicyStep:
        """Run one step on an RGB uint8 frame and advance the history.

        Args:
            frame: (H, W, 3) uint8 RGB camera frame (any size; resized per the bundle).
            instruction: the task instruction (embedded once per distinct text).
            holding: whether the gripper holds an object.
            prev_action: executed previous action; defaults to the last :meth:`record_action`
                (or "none" at episode start).
        """
        if prev_action is not None:
            self.record_action(prev_action)
        feed = {
            "image": preprocess_rgb(frame, self.bundle.image)[None],
            "instruction": self.encoder.embed(instruction)[None],
            "prev_action": np.array([self._prev_action], np.int64),
            "holding": np.array([1.0 if holding else 0.0], np.float32),
            "cache": self._cache,
            "cache_mask": self._cache_mask,
        }
        names = ["logits", "probs", "value", "cost_value", "cost_q", "cache_out", "cache_mask_out"]
        outs = dict(zip(names, self.session.run(names, feed)))
        for n, v in outs.items():
            if not np.all(np.isfinite(v)):
                raise PolicyOutputError(
                    f"policy output {n!r} contains NaN/Inf at step {self.steps} of bundle "
                    f"{self.bundle.bundle_id}; the model or its input is broken - stop the robot"
                )
        self._cache, self._cache_mask = outs["cache_out"], outs["cache_mask_out"]
        self.steps += 1
        return PolicyStep(
            probs=outs["probs"][0],
            logits=outs["logits"][0],
            value=float(outs["value"][0]),
            cost_value=float(outs["cost_value"][0]),
            cost_q=outs["cost_q"][0],
            action_names=self.bundle.action_names,
            cost_categories=self.bundle.cost_categories,
        )
