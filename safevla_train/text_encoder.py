"""Trainer-side instruction embeddings: the deployed encoder, as cached torch tensors.

Uses :class:`safevla_core.instruction_encoder.InstructionEncoder` (frozen all-MiniLM-L6-v2,
offline), so the trainer and the runtime embed text identically. Instructions come from a small
template pool, so each distinct text is embedded once (~10 ms) and then served from the cache.
"""

from __future__ import annotations

import numpy as np
import torch

from safevla_core.instruction_encoder import InstructionEncoder

_SHARED: InstructionEncoder | None = None


def shared_encoder() -> InstructionEncoder:
    """One process-wide encoder (loading MiniLM takes seconds)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = InstructionEncoder(device="cpu")
    return _SHARED


def embed_texts(texts: list[str]) -> np.ndarray:
    """[N,384] float32 unit-norm embeddings of ``texts`` (cached per text)."""
    enc = shared_encoder()
    return np.stack([enc.embed(t) for t in texts]).astype(np.float32)


def embed_tensor(texts: list[str]) -> torch.Tensor:
    """Same as :func:`embed_texts`, as a torch tensor."""
    return torch.from_numpy(embed_texts(texts))
