"""A frozen frame encoder run by ONNX Runtime instead of torch (the rollout's per-step forward).

A frozen encoder (:class:`safevla_train.pretrained.FrozenBackbone`, or a CNN that
``ppo.freeze_encoder`` holds fixed) maps each new frame to the features the policy reads; it is
the largest per-step cost of the trainer's main process. ONNX Runtime runs the same graph on the
CPU several times faster than torch at the rollout's batch sizes (``benchmarks/
frozen_encoder_runtime.py``). :class:`OnnxEncoder` exports the module once, in memory, and runs
it with the trainer's thread count; its features agree with torch's to float32 rounding (a max
abs difference checked at construction, :data:`PARITY_ATOL`), not bit for bit, so the trainer
uses it only when ``ppo.encoder_runtime = "onnxruntime"``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from safevla_core.bundle_manifest import ONNX_OPSET

# Max abs difference allowed between the ONNX Runtime and torch features at construction
# (features of the pretrained backbone reach ~20; float32 rounding differs by ~3e-5).
PARITY_ATOL = 1e-3


def batch_onnx(module: nn.Module, example: tuple, inputs, outputs):
    """``module`` exported to ONNX (an ``ONNXProgram``: ``.save(path)`` or ``.model_proto``)
    with a dynamic batch axis (axis 0) on every input, at the project's opset."""
    batch = torch.export.Dim("batch", min=1, max=1024)
    with torch.no_grad():
        return torch.onnx.export(
            module,
            example,
            input_names=list(inputs),
            output_names=list(outputs),
            dynamic_shapes=tuple({0: batch} for _ in inputs),
            dynamo=True,
            opset_version=ONNX_OPSET,
            external_data=False,
            verbose=False,
        )


def encoder_onnx(encoder: nn.Module, image_hw: tuple[int, int]) -> bytes:
    """The ONNX model (bytes) of ``encoder``: ``image`` [batch,3,H,W] -> ``feat`` [batch,D]."""
    example = (torch.zeros(2, 3, *image_hw),)
    return batch_onnx(encoder, example, ["image"], ["feat"]).model_proto.SerializeToString()


class OnnxEncoder:
    """``encoder`` (frozen: no parameter requires grad) exported once and run by ONNX Runtime:
    called like the module, [B,3,H,W] float32 -> [B,D] float32 (CPU tensors). It holds the
    weights ``encoder`` has at construction (build it after loading a checkpoint).

    Args:
        encoder: the frozen frame encoder of a :class:`safevla_train.model.VLAPolicy`.
        image_hw: the model's input size (H, W).
        threads: ONNX Runtime intra-op threads (the trainer passes ``ppo.encoder_threads``,
            by default torch's thread count).
        spin: whether idle intra-op threads busy-wait for the next call (ONNX Runtime's
            default). Off, they sleep: with ``threads > 1`` beside worker envs that step while
            the encoder waits, spinning threads would take the workers' cores.

    Raises:
        ValueError: a parameter of ``encoder`` requires grad (its features would go stale as
            training moved it), or the runtime's features differ from torch's by more than
            :data:`PARITY_ATOL`.
    """

    def __init__(
        self,
        encoder: nn.Module,
        image_hw: tuple[int, int],
        threads: int = 1,
        spin: bool = True,
    ) -> None:
        import onnxruntime as ort

        if any(p.requires_grad for p in encoder.parameters()):
            raise ValueError(
                "ppo.encoder_runtime='onnxruntime' needs a frozen frame encoder "
                "(model.encoder='efficientnet_lite0', or ppo.freeze_encoder=true)"
            )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, int(threads))
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        if not spin:
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            encoder_onnx(encoder, image_hw), opts, providers=["CPUExecutionProvider"]
        )
        self.parity = self._parity(encoder, image_hw)
        if self.parity > PARITY_ATOL:
            raise ValueError(
                f"ONNX Runtime encoder differs from torch by {self.parity:.2e} "
                f"(> {PARITY_ATOL:g}); use ppo.encoder_runtime='torch'"
            )

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        x = np.ascontiguousarray(image.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(self.session.run(None, {"image": x})[0])

    def _parity(self, encoder: nn.Module, image_hw: tuple[int, int]) -> float:
        """Max abs difference to torch on a fixed random batch."""
        g = torch.Generator().manual_seed(0)
        x = torch.randn(3, 3, *image_hw, generator=g)
        with torch.no_grad():
            want = encoder(x)
        return float((self(x) - want).abs().max())
