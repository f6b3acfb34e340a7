"""BM25 retrieval benchmark: build/save/load time and search latency on synthesized catalogs.

Run from the repository root: ``python -m bench.retrieval [--sizes 300 1000 10000 100000]``.
Prints a table and writes ``bench/results/retrieval.json``.

Products are synthesized from a small set of English and Chinese title parts (half each). Their
vocabulary is far smaller than a real catalog's, so posting lists are long: a pessimistic case for
scoring latency. Also measured: scorer variants over the same BM25 matrix (bm25s numpy ``np.add.at``,
``np.bincount``, scipy column sum) and the per-field-index alternative to token-repetition weighting.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path

import bm25s
import numpy as np
import scipy.sparse as sp

from service.catalog.load import Catalog
from service.catalog.product import Product
from service.retrieve.lexical import FieldWeights, LexicalIndex, _FieldTerms, load_or_build
from service.retrieve.tokenize import Analyzer
from service.validate.recommend import Filters

RESULTS = Path(__file__).parent / "results" / "retrieval.json"

# (english noun, chinese noun, category path)
KINDS = [
    ("down jacket", "羽绒服", "Clothing/Outerwear/Down"),
    ("rain jacket", "冲锋衣", "Clothing/Outerwear/Rain"),
    ("parka", "派克大衣", "Clothing/Outerwear/Parkas"),
    ("hoodie", "连帽卫衣", "Clothing/Tops/Hoodies"),
    ("running shoes", "跑鞋", "Shoes/Athletic/Running"),
    ("hiking boots", "登山鞋", "Shoes/Outdoor/Boots"),
    ("gaming laptop", "游戏本", "Electronics/Computers/Laptops"),
    ("ultrabook laptop", "轻薄本", "Electronics/Computers/Laptops"),
    ("mechanical keyboard", "机械键盘", "Electronics/Computers/Keyboards"),
    ("power bank", "充电宝", "Electronics/Phone Accessories/Power Banks"),
    ("phone case", "手机壳", "Electronics/Phone Accessories/Cases"),
    ("wireless earbuds", "蓝牙耳机", "Electronics/Audio/Earbuds"),
    ("noise cancelling headphones", "降噪耳机", "Electronics/Audio/Headphones"),
    ("robot vacuum", "扫地机器人", "Home/Appliances/Vacuums"),
    ("air fryer", "空气炸锅", "Home/Kitchen/Appliances"),
    ("rice cooker", "电饭煲", "Home/Kitchen/Appliances"),
    ("travel mug", "保温杯", "Home/Kitchen/Drinkware"),
    ("sunscreen", "防晒霜", "Beauty/Skincare/Sun"),
    ("face mask", "面膜", "Beauty/Skincare/Masks"),
    ("lipstick", "口红", "Beauty/Makeup/Lips"),
]
EN_ADJ = ["lightweight", "waterproof", "warm", "packable", "slim", "portable", "fast charging", "premium", "compact",
          "breathable", "insulated", "ergonomic", "quiet", "durable", "hooded", "long", "kids", "women's", "men's", "rgb"]
ZH_ADJ = ["轻薄", "防水", "保暖", "加厚", "便携", "快充", "高端", "迷你", "透气", "静音", "耐用", "连帽", "长款",
          "儿童", "女款", "男款", "大容量", "超薄", "无线", "冬季"]
BRANDS = ["Anker", "Columbia", "The North Face", "Patagonia", "ASUS", "Lenovo", "Apple", "Sony", "Xiaomi", "Uniqlo",
          "波司登", "李宁", "小米", "华为", "联想", "美的", "倍思", "骆驼", "安踏", "雪中飞"]
EN_DESC = ["Great for {season} commutes.", "Built for travel and the outdoors.", "Keeps you comfortable all day.",
           "A bestseller with {n} reviews.", "Ships in 24 hours."]
ZH_DESC = ["适合{season_zh}出行。", "户外旅行必备。", "全天舒适。", "销量超过{n}件。", "24小时发货。"]
SEASONS = [("winter", "冬天"), ("summer", "夏天"), ("spring", "春天"), ("autumn", "秋天")]

QUERIES_EN = ["{adj} {noun}", "{noun}", "{noun} under {price}", "I want a {adj} {noun} for {season}",
              "{brand} {noun}", "best {noun} with {adj} design"]
QUERIES_ZH = ["我想买一款适合{season_zh}穿的{noun_zh}", "{adj_zh}{noun_zh}", "{noun_zh}", "推荐一个{brand}的{noun_zh}",
              "有没有{price}元以下的{adj_zh}{noun_zh}"]


def synthesize(n: int, seed: int = 7) -> Catalog:
    rng = random.Random(seed)
    products = []
    for i in range(n):
        noun_en, noun_zh, category = rng.choice(KINDS)
        brand = rng.choice(BRANDS)
        season_en, season_zh = rng.choice(SEASONS)
        model = f"{rng.choice('ABCDEFGHKMXZ')}{rng.randint(1, 999)}"
        fill = {"season": season_en, "season_zh": season_zh, "n": rng.randint(10, 99999)}
        if i % 2:
            title = f"{brand} {rng.choice(EN_ADJ)} {rng.choice(EN_ADJ)} {noun_en} {model}"
            description = " ".join(rng.sample(EN_DESC, 2)).format(**fill)
            tags = rng.sample(EN_ADJ, 2)
        else:
            title = f"{brand}{rng.choice(ZH_ADJ)}{rng.choice(ZH_ADJ)}{noun_zh} {model}"
            description = "".join(rng.sample(ZH_DESC, 2)).format(**fill)
            tags = rng.sample(ZH_ADJ, 2)
        products.append(
            Product(
                id=f"p{i}",
                title=title,
                description=description,
                category=category,
                brand=brand,
                price=None if rng.random() < 0.03 else round(rng.uniform(5, 3000), 2),
                tags=tags,
                attributes={"model": model, "season": season_en, "waterproof": rng.random() < 0.3},
                in_stock=rng.random() < 0.9,
            )
        )
    return Catalog.of(products)


def queries(count: int, seed: int = 11) -> list[tuple[str, Filters]]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        noun_en, noun_zh, category = rng.choice(KINDS)
        season_en, season_zh = rng.choice(SEASONS)
        price = rng.choice([50, 100, 200, 500, 1000, 1500])
        fill = {"adj": rng.choice(EN_ADJ), "noun": noun_en, "price": price, "season": season_en,
                "brand": rng.choice(BRANDS), "noun_zh": noun_zh, "adj_zh": rng.choice(ZH_ADJ), "season_zh": season_zh}
        text = rng.choice(QUERIES_ZH if i % 2 else QUERIES_EN).format(**fill)
        kind = i % 4
        if kind == 0:
            filters = Filters()
        elif kind == 1:
            filters = Filters(price_max=float(price))
        elif kind == 2:
            filters = Filters(category="/".join(category.split("/")[:2]))
        else:
            filters = Filters(brand=fill["brand"], price_min=10.0, in_stock=False)
        out.append((text, filters))
    return out


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = np.asarray(samples_s) * 1e3
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "mean_ms": float(ms.mean())}


def timed(fn: Callable[[], object], repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def latency(fn: Callable[[str, Filters], object], workload: list[tuple[str, Filters]], warm: int = 50) -> dict[str, float]:
    """Wall-clock percentiles, plus the thread's CPU time: on a busy shared box the wall p99 includes
    preemption by other processes (a 4 ms scheduler tick), which CPU time leaves out."""
    for text, f in workload[:warm]:
        fn(text, f)
    wall, cpu = [], []
    for text, f in workload:
        start, start_cpu = time.perf_counter(), time.thread_time()
        fn(text, f)
        wall.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
    cpu_ms = percentiles(cpu)
    return {**percentiles(wall), "cpu_p50_ms": cpu_ms["p50_ms"], "cpu_p99_ms": cpu_ms["p99_ms"]}


def uncached(analyzer: Analyzer, query: str) -> object:
    """A query analyzed as if none of its phrases had been seen before."""
    analyzer._han.cache_clear()
    analyzer._word.cache_clear()
    return analyzer.query_terms(query)


def scorer_variants(index: LexicalIndex, workload: list[tuple[str, Filters]]) -> dict[str, dict[str, float]]:
    """The same BM25 sums computed three ways (query analysis excluded)."""
    bm25 = index._bm25
    data, indices, indptr = bm25.scores["data"], bm25.scores["indices"], bm25.scores["indptr"]
    n_docs = len(index.products)
    matrix = sp.csc_matrix((data, indices, indptr), shape=(n_docs, len(indptr) - 1))
    id_lists = [[bm25.vocab_dict[t.term] for t in index.known_terms(q)] for q, _ in workload]
    id_lists = [ids for ids in id_lists if ids]

    def bincount(ids: list[int]) -> np.ndarray:
        spans = np.concatenate([np.arange(indptr[i], indptr[i + 1]) for i in ids])
        return np.bincount(indices[spans], weights=data[spans], minlength=n_docs)

    def scipy_sum(ids: list[int]) -> np.ndarray:
        return np.asarray(matrix[:, ids].sum(axis=1)).ravel()

    out = {}
    for name, fn in (("bm25s_numpy_add_at", bm25.get_scores_from_ids), ("numpy_bincount", bincount), ("scipy_column_sum", scipy_sum)):
        samples = []
        for ids in id_lists:
            start = time.perf_counter()
            fn(ids)
            samples.append(time.perf_counter() - start)
        out[name] = percentiles(samples)
    return out


def per_field_variant(catalog: Catalog, analyzer: Analyzer, weights: FieldWeights, workload: list[tuple[str, Filters]]) -> dict[str, float]:
    """Separate BM25 index per field, scores summed with weights: build time and scoring latency."""
    start = time.perf_counter()
    per_field = []
    for f in fields(FieldWeights):
        weight = getattr(weights, f.name)
        only = FieldWeights(**{g.name: (1 if g.name == f.name else 0) for g in fields(FieldWeights)})
        terms = _FieldTerms(analyzer, only)
        model = bm25s.BM25(backend="numpy")
        model.index([terms(p) or [""] for p in catalog.products], show_progress=False)
        per_field.append((weight, model))
    build_s = time.perf_counter() - start

    term_lists = [[t.term for t in analyzer.query_terms(q)] for q, _ in workload]
    samples = []
    for terms in term_lists:
        start = time.perf_counter()
        total = np.zeros(len(catalog), dtype=np.float32)
        for weight, model in per_field:
            ids = model.get_tokens_ids(terms)
            if ids:
                total += weight * model.get_scores_from_ids(ids)
        samples.append(time.perf_counter() - start)
    return {"build_s": build_s, **{f"score_{k}": v for k, v in percentiles(samples).items()}}


def run(sizes: list[int], n_queries: int, candidates: int, compare: bool) -> dict:
    load_start = os.getloadavg()[0]
    analyzer = Analyzer()
    start = time.perf_counter()
    analyzer.warm_up()
    jieba_s = time.perf_counter() - start
    workload = queries(n_queries)
    rows = []
    for size in sizes:
        catalog = synthesize(size)
        row: dict = {"products": size}
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            index = LexicalIndex.build(catalog, analyzer)
            row["build_s"] = time.perf_counter() - start
            start = time.perf_counter()
            index.save(Path(tmp) / "ix")
            row["save_s"] = time.perf_counter() - start
            row["load_s"] = timed(lambda: LexicalIndex.load(Path(tmp) / "ix", catalog, analyzer), repeat=3)
            row["load_or_build_cold_s"] = timed(lambda: load_or_build(catalog, Path(tmp) / "lob", analyzer))
            row["load_or_build_warm_s"] = timed(lambda: load_or_build(catalog, Path(tmp) / "lob", analyzer), repeat=3)
            row["disk_mb"] = sum(p.stat().st_size for p in (Path(tmp) / "ix").rglob("*") if p.is_file()) / 1e6
        row["vocab"] = len(index._bm25.vocab_dict)
        row["postings"] = int(len(index._bm25.scores["data"]))
        row["search"] = latency(lambda q, f: index.search(q, f, candidates), workload)
        row["search_unfiltered"] = latency(lambda q, f: index.search(q, Filters(in_stock=False), candidates), workload)
        row["analyze_query"] = latency(lambda q, f: analyzer.query_terms(q), workload)
        row["analyze_query_uncached"] = latency(lambda q, f: uncached(analyzer, q), workload)
        hits = [len(index.search(q, f, candidates)) for q, f in workload]
        row["mean_results"] = statistics.fmean(hits)
        if compare:
            row["scorers"] = scorer_variants(index, workload)
            row["per_field_indexes"] = per_field_variant(catalog, analyzer, index.weights, workload)
        rows.append(row)
        print_row(row)
    return {
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
                    "cores": os.cpu_count(), "bm25s": bm25s.__version__, "numpy": np.__version__,
                    # the box is shared: wall-clock p99 is only meaningful next to how busy it was
                    "load_average_start": load_start, "load_average_end": os.getloadavg()[0]},
        "jieba_warm_up_s": jieba_s,
        "queries": n_queries,
        "candidates": candidates,
        "weights": asdict(FieldWeights()),
        "rows": rows,
    }


HEADER = (f"{'products':>9} {'build s':>8} {'save s':>7} {'load s':>7} {'vocab':>7} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'cpu p99':>7} {'nofilt p50':>10} {'nofilt p99':>10} {'analyze p50':>11} {'analyze p99':>11}")


def print_row(row: dict) -> None:
    s, u, a = row["search"], row["search_unfiltered"], row["analyze_query_uncached"]
    print(f"{row['products']:>9} {row['build_s']:>8.2f} {row['save_s']:>7.3f} {row['load_s']:>7.3f} {row['vocab']:>7} "
          f"{s['p50_ms']:>7.3f} {s['p99_ms']:>7.3f} {s['cpu_p99_ms']:>7.3f} {u['p50_ms']:>10.3f} {u['p99_ms']:>10.3f} {a['p50_ms']:>11.3f} {a['p99_ms']:>11.3f}", flush=True)
    if "scorers" in row:
        for name, v in row["scorers"].items():
            print(f"{'':>9}   scorer {name:<20} p50 {v['p50_ms']:.3f} ms  p99 {v['p99_ms']:.3f} ms")
        pf = row["per_field_indexes"]
        print(f"{'':>9}   per-field indexes: build {pf['build_s']:.2f} s, score p50 {pf['score_p50_ms']:.3f} ms "
              f"p99 {pf['score_p99_ms']:.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 1000, 10000, 100000])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--no-compare", action="store_true", help="skip the scorer and per-field comparisons")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; analyze = query analysis, uncached")
    print(HEADER)
    report = run(args.sizes, args.queries, args.candidates, compare=not args.no_compare)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
