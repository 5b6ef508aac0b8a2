"""The typed model-bundle manifest (``bundle.json``; format: docs/bundle.md).

One frozen dataclass per section. The trainer's export builds a :class:`BundleManifest` and
writes :meth:`BundleManifest.to_dict`; the policy runtime, the nodes and the evaluator read the
parsed form through :func:`safevla_core.bundle.load_bundle`, so every fact a deployed policy
depends on (image spec, render size, graph I/O names, instruction encoder, history) has this one
home. :meth:`BundleManifest.from_dict` checks every field's type and names the bad one
(``image.height``, ``graph.inputs[2].name``) in a :class:`ManifestError`.

The graph's input and output names are fixed by the format (:data:`GRAPH_INPUTS`, optionally
followed by :data:`BUMP_INPUT` and/or :data:`PROPRIO_INPUT`, and :data:`GRAPH_OUTPUTS`): the
model exports them, the manifest records them, the runtime feeds and reads the graph by the
names the manifest records.
"""

from __future__ import annotations

import dataclasses
import itertools
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from safevla_core.image_preprocessing import ImageSpec
from safevla_core.safety_spec import SafetySpec

BUNDLE_FORMAT = "safevla-bundle"
FORMAT_VERSION = 1
SUPPORTED_FORMAT_VERSIONS = (1,)
POLICY_GRAPH = "policy.onnx"
# The step graph's inputs and outputs, in the order of VLAPolicy.forward's arguments / results.
GRAPH_INPUTS: tuple[str, ...] = (
    "image",
    "instruction",
    "prev_action",
    "holding",
    "cache",
    "cache_mask",
)
# Optional inputs after GRAPH_INPUTS, in this order, in graphs trained with them: the motion
# feedback of the last executed action, float32 (batch, 2) = (blocked, collided)
# (safevla_core.actions.BUMP_FIELDS), the arm's joint state, float32 (batch, 2) = (lift
# height, arm extension) in metres (safevla_core.actions.PROPRIO_FIELDS), and the explored map
# around the robot, float32 (batch, 4, 20, 20) shares in [0, 1]
# (safevla_core.actions.EXPLORED_SHAPE, EXPLORED_CHANNELS).
BUMP_INPUT = "bump"
PROPRIO_INPUT = "proprio"
EXPLORED_INPUT = "explored"
OPTIONAL_INPUTS: tuple[str, ...] = (BUMP_INPUT, PROPRIO_INPUT, EXPLORED_INPUT)
GRAPH_OUTPUTS: tuple[str, ...] = (
    "logits",
    "probs",
    "value",
    "cost_value",
    "cost_q",
    "cache_out",
    "cache_mask_out",
)


class ManifestError(ValueError):
    """A bundle.json entry is missing or has the wrong type or value; the message names it."""


Dim = int | str  # a tensor dimension: a size, or a symbolic name such as "batch"


@dataclass(frozen=True)
class ActionEntry:
    """One action of the bundle's action space (``actions[i]``, logit order)."""

    index: int
    name: str
    kind: str
    magnitude: float


@dataclass(frozen=True)
class EncoderSpec:
    """The frozen instruction encoder the policy was trained with.

    Attributes:
        name: model name (e.g. ``all-MiniLM-L6-v2``).
        package: the Python package that provides it.
        dim: embedding size, the graph's ``instruction`` width.
        normalize: embeddings are L2-normalised.
    """

    name: str
    package: str
    dim: int
    normalize: bool


@dataclass(frozen=True)
class HistorySpec:
    """The per-layer cache that carries the episode history between steps.

    Attributes:
        kind: "layer_cache" (the only kind).
        context_length: K, steps each attention layer sees (newest included).
        num_layers: transformer layers (first cache axis).
        d_model: width of a cached state.
        cache_shape: shape of ``cache`` (``[num_layers, "batch", K - 1, d_model]``).
        how_to_feed: the feeding rule, in words.
        prev_action_none: the ``prev_action`` value at episode start.
    """

    kind: str
    context_length: int
    num_layers: int
    d_model: int
    cache_shape: tuple[Dim, ...]
    how_to_feed: str
    prev_action_none: int

    def __post_init__(self) -> None:
        if self.kind != "layer_cache":
            raise ManifestError(f"history.kind = {self.kind!r}; this runtime reads 'layer_cache'")
        if self.context_length < 2:
            raise ManifestError(f"history.context_length = {self.context_length}; must be >= 2")


@dataclass(frozen=True)
class CostQSpec:
    """What the per-action, per-category cost critic output predicts."""

    output: str
    shape: tuple[Dim, ...]
    target: str
    gamma: float
    units: str


@dataclass(frozen=True)
class CostSpec:
    """Cost categories (order of the last ``cost_q`` axis) and the spec they were trained on."""

    categories: tuple[str, ...]
    safety_spec: SafetySpec
    cost_q: CostQSpec

    def __post_init__(self) -> None:
        if self.categories != self.safety_spec.categories:
            raise ManifestError(
                f"cost.categories {list(self.categories)} differ from the bundle's safety spec "
                f"{list(self.safety_spec.categories)}"
            )


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output: name, element type, shape (symbolic dims as strings)."""

    name: str
    dtype: str
    shape: tuple[Dim, ...]


# The ONNX opset every graph the project exports is written at (policy, critic, and the
# trainer's in-memory encoder graph).
ONNX_OPSET = 18


def with_optional_inputs(flags) -> tuple[str, ...]:
    """The step graph's input names: :data:`GRAPH_INPUTS`, then each of
    :data:`OPTIONAL_INPUTS` whose flag in ``flags`` (one per optional input, in order) is set."""
    return (*GRAPH_INPUTS, *(n for n, on in zip(OPTIONAL_INPUTS, flags, strict=True) if on))


_SUBSETS = tuple(itertools.product((False, True), repeat=len(OPTIONAL_INPUTS)))


@dataclass(frozen=True)
class GraphSpec:
    """The ONNX step graph: its file in the bundle, opset, inputs and outputs (format order)."""

    file: str
    opset: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def __post_init__(self) -> None:
        for part, wants in (
            # the fixed inputs, then any of the optional ones, in their order
            ("inputs", tuple(with_optional_inputs(on) for on in _SUBSETS)),
            ("outputs", (GRAPH_OUTPUTS,)),
        ):
            got = tuple(t.name for t in getattr(self, part))
            if got not in wants:
                raise ManifestError(
                    f"graph.{part} are {list(got)}; format 1 needs "
                    + " or ".join(str(list(w)) for w in wants)
                )

    @property
    def takes_bump(self) -> bool:
        """The graph takes the motion feedback (:data:`BUMP_INPUT`)."""
        return BUMP_INPUT in self.input_names

    @property
    def takes_proprio(self) -> bool:
        """The graph takes the arm's joint state (:data:`PROPRIO_INPUT`)."""
        return PROPRIO_INPUT in self.input_names

    @property
    def takes_explored(self) -> bool:
        """The graph takes the explored map (:data:`EXPLORED_INPUT`)."""
        return EXPLORED_INPUT in self.input_names

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.outputs)


@dataclass(frozen=True)
class RenderSpec:
    """The size the simulator rendered ``camera`` at in training (before the image resize;
    each of its cameras at this size when it names several)."""

    camera: str
    height: int
    width: int

    def __post_init__(self) -> None:
        if min(self.height, self.width) < 8:
            raise ManifestError(f"render size {self.height}x{self.width}; both must be >= 8")


@dataclass(frozen=True)
class FileEntry:
    """sha256 and size of one bundle file."""

    sha256: str
    bytes: int


@dataclass(frozen=True, kw_only=True)
class BundleManifest:
    """The parsed bundle.json; fields in file order (see docs/bundle.md).

    ``render`` is absent in bundles exported before it existed; :attr:`render_size` then falls
    back to the training config those bundles record. ``model``, ``training`` and ``evaluation``
    are free-form records (configs and reports), kept as JSON objects.
    """

    format: str = BUNDLE_FORMAT
    format_version: int = FORMAT_VERSION
    name: str
    created_utc: str | None = None
    actions: tuple[ActionEntry, ...]
    image: ImageSpec
    render: RenderSpec | None = None
    instruction_encoder: EncoderSpec
    history: HistorySpec
    cost: CostSpec
    graph: GraphSpec
    model: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    evaluation: dict = field(default_factory=dict)
    export_parity_max_abs_diff: dict | None = None
    files: dict[str, FileEntry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.format != BUNDLE_FORMAT:
            raise ManifestError(f"format {self.format!r} is not {BUNDLE_FORMAT!r}")
        if self.format_version not in SUPPORTED_FORMAT_VERSIONS:
            raise ManifestError(
                f"format_version {self.format_version!r} is not supported (this runtime reads "
                f"{list(SUPPORTED_FORMAT_VERSIONS)})"
            )
        for i, a in enumerate(self.actions):
            if a.index != i:
                raise ManifestError(f"actions[{i}].index = {a.index}; must equal its position {i}")

    @property
    def render_size(self) -> tuple[int, int] | None:
        """(H, W) the simulator rendered frames at in training (before the image resize): the
        ``render`` entry, else the training config's ``env.nav_size``; None if neither exists."""
        if self.render is not None:
            return self.render.height, self.render.width
        env = ((self.training.get("config") or {}).get("env")) or {}
        size = env.get("nav_size") if isinstance(env, dict) else None
        if isinstance(size, list | tuple) and len(size) == 2:
            return int(size[0]), int(size[1])
        return None

    def to_dict(self) -> dict:
        """JSON-ready form, keys in file order; absent optional entries are left out."""
        return _dump(self)

    @classmethod
    def from_dict(cls, data: Any) -> BundleManifest:
        """Parse and type-check bundle.json's content.

        Raises:
            ManifestError: naming the first missing, unknown or mistyped field.
        """
        return _load(cls, data, "")


# ---- generic dataclass <-> JSON conversion, driven by the field annotations ----


def _dump(value: Any) -> Any:
    if isinstance(value, SafetySpec):
        return value.to_dict()
    if dataclasses.is_dataclass(value):
        return {
            f.name: _dump(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None
        }
    if isinstance(value, tuple | list):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


def _where(path: str) -> str:
    return f"field {path!r}" if path else "the manifest"


def _load(kind: Any, value: Any, path: str) -> Any:
    """``value`` (parsed JSON) as an instance of the annotation ``kind``."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if value is None and len(options) < len(args):
            return None
        if len(options) == 1:
            return _load(options[0], value, path)
        for option in options:  # e.g. a dimension: a size or a symbolic name
            try:
                return _load(option, value, path)
            except ManifestError:
                pass
        raise _type_error(path, " or ".join(a.__name__ for a in options), value)
    if kind is SafetySpec:
        if not isinstance(value, dict):
            raise _type_error(path, kind, value)
        try:
            return SafetySpec.from_dict(value)
        except (TypeError, ValueError) as exc:
            raise ManifestError(f"{_where(path)}: {exc}") from None
    if dataclasses.is_dataclass(kind):
        return _load_dataclass(kind, value, path)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise _type_error(path, "a list", value)
        return tuple(_load(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
    if origin is dict or kind is dict:
        if not isinstance(value, dict):
            raise _type_error(path, "an object", value)
        if not args:
            return value
        return {k: _load(args[1], v, f"{path}.{k}") for k, v in value.items()}
    return _load_scalar(kind, value, path)


def _load_scalar(kind: type, value: Any, path: str) -> Any:
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise _type_error(path, kind, value)


def _load_dataclass(cls: type, value: Any, path: str) -> Any:
    if not isinstance(value, dict):
        raise _type_error(path, f"an object ({cls.__name__})", value)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise ManifestError(f"{_where(path)} has unknown keys {unknown}; known: {sorted(fields)}")
    kwargs = {}
    for name, f in fields.items():
        sub = f"{path}.{name}" if path else name
        if name not in value:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ManifestError(f"field {sub!r} is missing")
            continue
        kwargs[name] = _load(hints[name], value[name], sub)
    try:
        return cls(**kwargs)
    except ManifestError:
        raise
    except (TypeError, ValueError) as exc:
        raise ManifestError(f"{_where(path)}: {exc}") from None


def _type_error(path: str, kind: Any, value: Any) -> ManifestError:
    want = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    return ManifestError(
        f"{_where(path)} must be {want}, got {type(value).__name__} {value!r}"[:300]
    )
