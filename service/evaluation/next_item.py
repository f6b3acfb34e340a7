"""Next-item evaluation: leave-one-out over shoppers' sequences, full ranking, tie-averaged R@k and N@k.

The protocol is the one published sequential-recommendation results use on Amazon Beauty (its
README in the datasets directory; S3-Rec's code):

* each shopper's steps, oldest first; the last is the **test** target, the second-last the
  **validation** target;
* the model learns from ``seq[:-2]`` of every shopper only: nothing from any last item, and a
  validation item is never a training target;
* validation input = ``seq[:-2]``, test input = ``seq[:-1]`` (a validation item may be *input*);
* every catalog product is ranked (no sampled negatives) with the shopper's own input history
  removed; Recall@k and NDCG@k (k = 5, 10) are averaged over **all** evaluated shoppers, a
  shopper whose target is not ranked counting 0;
* ties are averaged: a target tied with ``t - 1`` other products just above ``g`` better ones sits
  at each of the ``t`` places ``g .. g + t - 1`` with equal chance (equal to
  :mod:`service.evaluation.metrics` on the same ranking, tested).

Parameters are tuned on the validation targets only; the test targets are read once per reported row.

A shop's own log (``--interactions FILE --catalog FILE``) is read as :mod:`service.personalize.logfile`
reads it; each shopper's positive steps keep each product's first occurrence, so a target is always a
product new to the shopper, as in Beauty (a repeat purchase would be removed with the history).
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from service.catalog.load import Catalog
from service.catalog.product import Product
from service.errors import CatalogError, ConfigError
from service.personalize.blend import Blend, BlendParams
from service.personalize.content import ContentParams, ContentSimilarity
from service.personalize.contract import ShopperSequence
from service.personalize.cooccur import CooccurParams, ItemToItem
from service.personalize.corpus import Corpus, EventWeights, History
from service.personalize.popular import Popularity, PopularParams
from service.retrieve.lexical import LexicalIndex
from service.retrieve.tokenize import Analyzer

AMAZON_BEAUTY = "amazon-beauty"
BEAUTY_DIR = "amazon-beauty-2014"
KS = (5, 10)


@dataclass(frozen=True)
class NextItemData:
    """Shoppers' deduplicated positive steps over a catalog (``steps``: a :class:`Corpus`)."""

    name: str
    catalog: Catalog
    steps: Corpus

    @property
    def shoppers(self) -> int:
        return self.steps.shoppers

    def evaluated(self) -> np.ndarray:
        """Shoppers with at least 3 steps: one to learn from, a validation and a test target."""
        return np.flatnonzero(np.diff(self.steps.ptr) >= 3)

    def training(self) -> Corpus:
        """Every shopper's ``seq[:-2]``: what the model may learn from (shoppers too short to split give nothing)."""
        ptr = self.steps.ptr
        lengths = np.maximum(np.diff(ptr) - 2, 0)
        seq = self.steps.sequence_of_step()
        keep = (np.arange(self.steps.steps) - ptr[seq]) < lengths[seq]
        return Corpus(
            size=self.steps.size,
            ptr=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            item=self.steps.item[keep],
            weight=self.steps.weight[keep],
            time_ms=self.steps.time_ms[keep],
        )

    def split(self, which: str) -> tuple[list[History], np.ndarray]:
        """Inputs and targets of the evaluated shoppers: ``validation`` (seq[:-2] -> seq[-2]) or ``test``."""
        if which not in ("validation", "test"):
            raise ValueError(which)
        cut = 2 if which == "validation" else 1
        histories, targets = [], []
        empty = np.empty(0, dtype=np.int64)
        for s in self.evaluated():
            start, end = self.steps.ptr[s], self.steps.ptr[s + 1]
            histories.append(
                History(
                    positions=self.steps.item[start : end - cut].astype(np.int64),
                    weights=self.steps.weight[start : end - cut],
                    dismissed=empty,
                )
            )
            targets.append(int(self.steps.item[end - cut]))
        return histories, np.asarray(targets, dtype=np.int64)


# -- metrics ------------------------------------------------------------------------------------------


def target_ranks(scores: np.ndarray, targets: np.ndarray, removed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row: how many ranked products score above the target, and how many tie with it (itself included).

    ``removed``: products not ranked for that row (boolean, same shape as ``scores``). A removed
    target is never found: its ``ties`` is 0.
    """
    rows = np.arange(len(targets))
    target_scores = scores[rows, targets][:, None]
    ranked = ~removed
    above = ((scores > target_scores) & ranked).sum(axis=1)
    ties = ((scores == target_scores) & ranked).sum(axis=1)
    return above, ties


def expected_metrics(above: np.ndarray, ties: np.ndarray, ks: Sequence[int] = KS) -> dict[str, np.ndarray]:
    """Per-row Recall@k and NDCG@k of one relevant target, averaged over its tie group's orders."""
    out: dict[str, np.ndarray] = {}
    kmax = max(ks)
    discounts = 1.0 / np.log2(np.arange(kmax) + 2)
    cum_discount = np.concatenate([[0.0], np.cumsum(discounts)])
    safe_ties = np.maximum(ties, 1)
    for k in ks:
        first = np.minimum(above, k)
        last = np.minimum(above + ties, k)  # places above..last-1 fall inside the top k
        inside = np.where(ties > 0, last - first, 0)
        out[f"recall@{k}"] = inside / safe_ties
        out[f"ndcg@{k}"] = np.where(ties > 0, (cum_discount[last] - cum_discount[first]) / safe_ties, 0.0)
    return out


@dataclass
class MethodResult:
    method: str
    split: str
    shoppers: int
    metrics: dict[str, float]
    seconds: float = 0.0
    notes: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "split": self.split,
            "shoppers": self.shoppers,
            **{k: round(v, 5) for k, v in self.metrics.items()},
            "seconds": round(self.seconds, 2),
            **({"notes": self.notes} if self.notes else {}),
        }


Scorer = Callable[[Sequence[History]], np.ndarray]


def evaluate_scorer(
    scorer: Scorer,
    histories: Sequence[History],
    targets: np.ndarray,
    size: int,
    *,
    batch: int = 1024,
    ks: Sequence[int] = KS,
) -> dict[str, float]:
    """Mean Recall@k / NDCG@k of ``scorer`` (histories -> scores, shoppers x products) over every shopper."""
    sums = {f"{m}@{k}": 0.0 for k in ks for m in ("recall", "ndcg")}
    for start in range(0, len(histories), batch):
        chunk = histories[start : start + batch]
        scores = np.asarray(scorer(chunk), dtype=np.float64)
        removed = np.zeros((len(chunk), size), dtype=bool)
        for row, history in enumerate(chunk):
            removed[row, history.positions] = True
        above, ties = target_ranks(scores, targets[start : start + batch], removed)
        for name, values in expected_metrics(above, ties, ks).items():
            sums[name] += math.fsum(values.tolist())
    n = max(len(histories), 1)
    return {name: total / n for name, total in sums.items()}


# -- data -----------------------------------------------------------------------------------------------


def load_beauty(datasets_dir: str | Path) -> NextItemData:
    """Amazon Beauty 2014 (5-core) from ``datasets_dir/amazon-beauty-2014``: titles joined as its README says.

    :raises ConfigError: if the dataset's files are not there.
    :raises CatalogError: if a sequence names a product without a title.
    """
    root = Path(datasets_dir) / BEAUTY_DIR
    paths = {name: root / name for name in ("user_sequence.txt", "item_id_to_int.json", "products_lookup.csv")}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise ConfigError(f"--dataset {AMAZON_BEAUTY}: missing {', '.join(missing)} (set SHOPGUIDE_DATASETS_DIR)")
    to_int = json.loads(paths["item_id_to_int.json"].read_text(encoding="utf-8"))
    names: dict[int, str] = {}
    with paths["products_lookup.csv"].open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            names[int(row["global_product_id"])] = row["name"]
    lines = paths["user_sequence.txt"].read_text(encoding="utf-8").splitlines()
    sequences = [line.split()[1:] for line in lines if line.strip()]
    order = list(dict.fromkeys(asin for seq in sequences for asin in seq))
    products = []
    for asin in order:
        if asin not in to_int or to_int[asin] not in names:
            raise CatalogError(f"{root}: product {asin} is not in item_id_to_int.json / products_lookup.csv")
        # 7 of the 12,101 names are empty: such a product is titled by its ASIN (no content similarity)
        title = names[to_int[asin]].strip() or asin
        products.append(Product(id=asin, title=title[:1000]))
    catalog = Catalog.of(products)
    position = {asin: i for i, asin in enumerate(order)}
    lists = [[position[a] for a in dict.fromkeys(seq)] for seq in sequences]
    return NextItemData(AMAZON_BEAUTY, catalog, _steps(lists, None, None, len(order)))


def from_sequences(
    name: str, catalog: Catalog, sequences: Iterable[ShopperSequence], weights: EventWeights | None = None
) -> NextItemData:
    """A shop's log as evaluation data: positive steps in time order, each product at its first occurrence."""
    weights = weights or EventWeights()
    position_of = {p.id: i for i, p in enumerate(catalog.products)}
    lists, step_weights, times = [], [], []
    for sequence in sequences:
        seen: dict[int, int] = {}
        items: list[int] = []
        ws: list[float] = []
        ts: list[int] = []
        for interaction in sorted(sequence.interactions, key=lambda i: i.timestamp_ms):
            pos = position_of.get(interaction.product_id)
            w = weights.of(interaction)
            if pos is None or w <= 0:
                continue
            if pos in seen:  # a later event on a product already in the sequence strengthens that step
                ws[seen[pos]] = max(ws[seen[pos]], w)
                continue
            seen[pos] = len(items)
            items.append(pos)
            ws.append(w)
            ts.append(interaction.timestamp_ms)
        if items:
            lists.append(items)
            step_weights.append(ws)
            times.append(ts)
    return NextItemData(name, catalog, _steps(lists, step_weights, times, len(catalog)))


def _steps(
    lists: Sequence[Sequence[int]],
    weights: Sequence[Sequence[float]] | None,
    times: Sequence[Sequence[int]] | None,
    size: int,
) -> Corpus:
    lengths = np.fromiter((len(s) for s in lists), dtype=np.int64, count=len(lists))
    flat = [p for s in lists for p in s]
    return Corpus(
        size=size,
        ptr=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        item=np.asarray(flat, dtype=np.int32),
        weight=(
            np.asarray([w for s in weights for w in s], dtype=np.float32)
            if weights is not None
            else np.ones(len(flat), dtype=np.float32)
        ),
        time_ms=(
            np.asarray([t for s in times for t in s], dtype=np.int64)
            if times is not None
            else np.zeros(len(flat), dtype=np.int64)
        ),
    )


PUBLISHED_BEAUTY: Mapping[str, Mapping[str, float | None]] = {
    "most popular": {"recall@5": 0.0080, "ndcg@5": 0.0044, "recall@10": 0.0152, "ndcg@10": 0.0068},
    "GRU4Rec": {"recall@5": 0.0164, "ndcg@5": 0.0099, "recall@10": 0.0283, "ndcg@10": 0.0137},
    "BERT4Rec": {"recall@5": 0.0203, "ndcg@5": 0.0124, "recall@10": 0.0347, "ndcg@10": 0.0170},
    "SASRec": {"recall@5": 0.0387, "ndcg@5": 0.0249, "recall@10": 0.0605, "ndcg@10": 0.0318},
    "S3-Rec": {"recall@5": 0.0387, "ndcg@5": 0.0244, "recall@10": 0.0647, "ndcg@10": 0.0327},
    "TIGER": {"recall@5": 0.0454, "ndcg@5": 0.0321, "recall@10": 0.0648, "ndcg@10": 0.0384},
    "GRAM": {"recall@5": 0.0641, "ndcg@5": 0.0451, "recall@10": 0.0890, "ndcg@10": 0.0531},
    "eSASRec": {"recall@5": None, "ndcg@5": None, "recall@10": 0.0928, "ndcg@10": 0.0523},
}


# -- methods and the run ------------------------------------------------------------------------------

METHODS = ("popularity", "content", "item2item", "blend", "pipeline")
DEFAULT_METHODS = ("popularity", "content", "item2item", "blend")
SPLITS = ("validation", "test")


def method_params(method: str, served: BlendParams) -> BlendParams | None:
    """The blend weights a method stands for (``blend`` is the served one; None for ``pipeline``)."""
    if method == "popularity":
        return replace(served, item2item=0.0, content=0.0, popular=1.0, category=0.0, brand=0.0)
    if method == "content":
        return replace(served, item2item=0.0, content=1.0, popular=0.0, category=0.0, brand=0.0)
    if method == "item2item":
        return replace(served, item2item=1.0, content=0.0, popular=0.0, category=0.0, brand=0.0)
    if method == "blend":
        return served
    return None


@dataclass
class EvalModel:
    """The served recommender learned from ``data.training()`` only, and how long each part took."""

    blend: Blend
    seconds: dict[str, float]


def build_eval_model(data: NextItemData, analyzer: Analyzer | None = None) -> EvalModel:
    """The served blend (default parameters) learned from every shopper's ``seq[:-2]``; content from the catalog."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    train = data.training()
    item2item = ItemToItem.build(train, CooccurParams())
    popularity = Popularity.build(train, PopularParams())
    seconds["item2item_and_popularity"] = time.perf_counter() - started
    started = time.perf_counter()
    lexical = LexicalIndex.build(data.catalog, analyzer or Analyzer())
    seconds["bm25_index"] = time.perf_counter() - started
    started = time.perf_counter()
    content = ContentSimilarity.build(lexical, ContentParams())
    seconds["content"] = time.perf_counter() - started
    return EvalModel(Blend(data.catalog, item2item, content, popularity, BlendParams()), seconds)


def sample(n: int, limit: int | None) -> np.ndarray:
    """A deterministic sample of ``limit`` of ``n`` rows (all when ``limit`` is None), in order."""
    if limit is None or limit >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(12).choice(n, size=limit, replace=False))


@dataclass
class NextItemReport:
    dataset: str
    shoppers: int
    products: int
    results: list[MethodResult]
    build_seconds: dict[str, float]
    training_steps: int
    published: Mapping[str, Mapping[str, float | None]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "dataset": self.dataset,
            "protocol": "leave-one-out; train on seq[:-2]; full ranking, history removed; ties averaged",
            "shoppers": self.shoppers,
            "products": self.products,
            "training_steps": self.training_steps,
            "build_seconds": {k: round(v, 2) for k, v in self.build_seconds.items()},
            "results": [r.to_dict() for r in self.results],
            **({"published": self.published} if self.published else {}),
        }

    def to_table(self) -> str:
        head = f"{self.dataset}: {self.shoppers} shoppers, {self.products} products, full ranking"
        lines = [head, f"{'method':<12} {'split':<10} {'shoppers':>8} {'R@5':>7} {'N@5':>7} {'R@10':>7} {'N@10':>7}"]
        for r in self.results:
            m = r.metrics
            lines.append(
                f"{r.method:<12} {r.split:<10} {r.shoppers:>8} {m['recall@5']:>7.4f} {m['ndcg@5']:>7.4f} "
                f"{m['recall@10']:>7.4f} {m['ndcg@10']:>7.4f}"
            )
        for name, row in self.published.items():
            cells = [f"{row[k]:>7.4f}" if row.get(k) is not None else f"{'-':>7}" for k in _COLUMNS]
            lines.append(f"{name:<12} {'published':<10} {'':>8} {' '.join(cells)}")
        build = ", ".join(f"{k} {v:.2f} s" for k, v in self.build_seconds.items())
        lines.append(f"built from {self.training_steps} training steps: {build}")
        return "\n".join(lines)


_COLUMNS = ("recall@5", "ndcg@5", "recall@10", "ndcg@10")
PipelineScorer = Callable[[Blend, Sequence[History]], np.ndarray]


def run_next_item(
    data: NextItemData,
    methods: Sequence[str] = DEFAULT_METHODS,
    splits: Sequence[str] = SPLITS,
    *,
    limit: int | None = None,
    pipeline: PipelineScorer | None = None,
    pipeline_limit: int = 20,
    model: EvalModel | None = None,
) -> NextItemReport:
    """Evaluate ``methods`` on ``splits`` of ``data`` under the protocol above.

    ``pipeline``: scores a batch of histories through the provider chain (one request per shopper);
    it runs on a sample of ``limit`` (default ``pipeline_limit``) shoppers, and the blend is
    reported on the same sample beside it.

    :raises ConfigError: an unknown method, or ``pipeline`` asked without a scorer.
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ConfigError(f"--method: unknown {', '.join(unknown)}; known: {', '.join(METHODS)}")
    if "pipeline" in methods and pipeline is None:
        raise ConfigError("--method pipeline needs a provider chain")
    if not len(data.evaluated()):
        raise CatalogError(f"{data.name}: no shopper has the 3 steps leave-one-out needs")
    model = model or build_eval_model(data)
    blend = model.blend
    size = len(data.catalog)
    results: list[MethodResult] = []
    for split in splits:
        histories, targets = data.split(split)
        rows = sample(len(histories), limit)
        chosen = [histories[i] for i in rows]
        for method in methods:
            if method == "pipeline":
                continue
            params = method_params(method, blend.params)
            if method == "blend":
                scorer: Scorer = blend.score_histories  # exactly what the service runs per request
            else:
                scorer = lambda hs, p=params: blend.combine(blend.parts(hs), p)  # noqa: E731
            started = time.perf_counter()
            metrics = evaluate_scorer(scorer, chosen, targets[rows], size)
            results.append(MethodResult(method, split, len(rows), metrics, time.perf_counter() - started))
        if "pipeline" in methods and pipeline is not None:
            few = sample(len(histories), limit or pipeline_limit)
            few_histories = [histories[i] for i in few]
            for name, scorer in (
                ("blend", blend.score_histories),
                ("pipeline", lambda hs: pipeline(blend, hs)),  # type: ignore[misc]
            ):
                started = time.perf_counter()
                metrics = evaluate_scorer(scorer, few_histories, targets[few], size, batch=len(few_histories))
                results.append(
                    MethodResult(
                        name, split, len(few), metrics, time.perf_counter() - started, notes={"sample": "pipeline"}
                    )
                )
    return NextItemReport(
        dataset=data.name,
        shoppers=len(data.evaluated()),
        products=size,
        results=results,
        build_seconds=model.seconds,
        training_steps=data.training().steps,
        published=PUBLISHED_BEAUTY if data.name == AMAZON_BEAUTY else {},
    )
