"""Persisted recommender parts, keyed by what they were computed from (as the retrieval index is).

* ``content-<catalog version>-<hash of index fingerprint and parameters>``: the content similarity,
  which depends on the catalog's text only, so a new event log never recomputes it;
* ``personalize-<catalog version>-<hash of the encoded log and parameters>``: the item-to-item
  matrix and popularity. The same log gives the same key, so every worker (and ``shopguide
  personalize build`` run ahead) shares one build; a changed log gives a new directory.

Both go through :func:`service.retrieve.persist.load_or_build_dir`: built once under a lock,
published by an atomic rename, rebuilt if unreadable.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from service.catalog.load import Catalog
from service.errors import CatalogError
from service.personalize.content import ContentParams, ContentSimilarity
from service.personalize.cooccur import CooccurParams, ItemToItem
from service.personalize.corpus import Corpus
from service.personalize.popular import Popularity, PopularParams
from service.retrieve.lexical import LexicalIndex
from service.retrieve.persist import load_or_build_dir

# Bump when the saved layout or the way the parts are computed changes.
MODEL_FORMAT = "1"
_META = "meta.json"


def _products_hash(catalog: Catalog) -> str:
    return hashlib.sha256("\x1f".join(p.id for p in catalog.products).encode()).hexdigest()[:16]


def content_key(catalog: Catalog, index: LexicalIndex, params: ContentParams) -> str:
    spec = json.dumps({"f": MODEL_FORMAT, "index": index.fingerprint, "p": asdict(params)}, sort_keys=True)
    return f"content-{catalog.version}-{hashlib.sha256(spec.encode()).hexdigest()[:12]}"


def model_key(catalog: Catalog, corpus: Corpus, cooccur: CooccurParams, popular: PopularParams) -> str:
    return f"personalize-{catalog.version}-{corpus.digest(MODEL_FORMAT, cooccur, popular)}"


def _check_meta(directory: Path, catalog: Catalog, kind: str) -> dict:
    path = directory / _META
    if not path.is_file():
        raise FileNotFoundError(f"no {kind} in {directory}")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CatalogError(f"{directory}: unreadable {kind}: {exc}") from exc
    if meta.get("format") != MODEL_FORMAT or meta.get("kind") != kind:
        raise CatalogError(f"{directory}: {kind} of another format")
    if meta.get("catalog_version") != catalog.version or meta.get("products") != _products_hash(catalog):
        raise CatalogError(f"{directory}: {kind} was built from another catalog")
    return meta


def _write_meta(directory: Path, catalog: Catalog, kind: str, **extra: object) -> None:
    meta = {
        "format": MODEL_FORMAT,
        "kind": kind,
        "catalog_version": catalog.version,
        "products": _products_hash(catalog),
        **extra,
    }
    (directory / _META).write_text(json.dumps(meta), encoding="utf-8")


def _loading(kind: str, directory: Path, read):  # type: ignore[no-untyped-def]
    try:
        return read()
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise CatalogError(f"{directory}: unreadable {kind}: {exc}") from exc


def load_or_build_content(
    index_dir: str | Path, catalog: Catalog, index: LexicalIndex, params: ContentParams | None = None
) -> ContentSimilarity:
    params = params or ContentParams()
    n = len(catalog)

    def load(path: Path) -> ContentSimilarity:
        _check_meta(path, catalog, "content")
        content = _loading("content", path, lambda: ContentSimilarity.load(path))
        if content.similarity.shape != (n, n):
            raise CatalogError(f"{path}: content similarity does not match the catalog")
        return content

    def save(content: ContentSimilarity, path: Path) -> None:
        content.save(path)
        _write_meta(path, catalog, "content", params=asdict(params))

    return load_or_build_dir(
        index_dir, content_key(catalog, index, params), load, lambda: ContentSimilarity.build(index, params), save
    )


def load_or_build_model(
    index_dir: str | Path,
    catalog: Catalog,
    corpus: Corpus,
    cooccur: CooccurParams | None = None,
    popular: PopularParams | None = None,
) -> tuple[ItemToItem, Popularity, str]:
    """The item-to-item matrix and popularity for ``corpus``, and the key they are stored under."""
    cooccur = cooccur or CooccurParams()
    popular = popular or PopularParams()
    key = model_key(catalog, corpus, cooccur, popular)
    n = len(catalog)

    def load(path: Path) -> tuple[ItemToItem, Popularity]:
        _check_meta(path, catalog, "personalize")
        item2item = _loading("personalize", path, lambda: ItemToItem.load(path))
        popularity = _loading("personalize", path, lambda: Popularity.load(path))
        if item2item.similarity.shape != (n, n) or len(popularity.popular) != n:
            raise CatalogError(f"{path}: model does not match the catalog")
        return item2item, popularity

    def build() -> tuple[ItemToItem, Popularity]:
        return ItemToItem.build(corpus, cooccur), Popularity.build(corpus, popular)

    def save(parts: tuple[ItemToItem, Popularity], path: Path) -> None:
        parts[0].save(path)
        parts[1].save(path)
        _write_meta(
            path,
            catalog,
            "personalize",
            shoppers=corpus.shoppers,
            steps=corpus.steps,
            pairs=int(parts[0].similarity.nnz),
            cooccur=asdict(cooccur),
            popular=asdict(popular),
            latest_ms=corpus.latest_ms,
            cold_products=int(np.sum(np.diff(parts[0].similarity.indptr) == 0)),
        )

    item2item, popularity = load_or_build_dir(index_dir, key, load, build, save)
    return item2item, popularity, key
