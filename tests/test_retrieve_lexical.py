from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.catalog.load import Catalog, load_catalog
from service.catalog.product import Product
from service.errors import CatalogError
from service.retrieve.base import Candidate, Retriever
from service.retrieve.filters import passes
from service.retrieve.lexical import FieldWeights, LexicalIndex, index_key, load_or_build
from service.retrieve.tokenize import Analyzer
from service.validate.recommend import Filters

FIXTURE = Path(__file__).parent / "fixtures" / "retrieval_catalog.jsonl"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(FIXTURE, strict=True)


@pytest.fixture(scope="module")
def analyzer(tmp_path_factory: pytest.TempPathFactory) -> Analyzer:
    return Analyzer(cache_dir=tmp_path_factory.mktemp("jieba"))


@pytest.fixture(scope="module")
def index(catalog: Catalog, analyzer: Analyzer) -> LexicalIndex:
    return LexicalIndex.build(catalog, analyzer)


def ids(found: list[Candidate]) -> list[str]:
    return [c.product.id for c in found]


def test_is_a_retriever(index: LexicalIndex) -> None:
    retriever: Retriever = index
    assert retriever.search("rain jacket", Filters(), 3)


def test_chinese_request_ranks_down_jackets_first(index: LexicalIndex) -> None:
    found = index.search("我想买一款适合冬天穿的羽绒服", Filters(), 10)
    # the three in-stock 羽绒服 (zh-down-3 is out of stock) lead, before the wool coat that only matches 冬天/穿
    assert set(ids(found)[:3]) == {"zh-down-1", "zh-down-2", "zh-down-4"}
    assert all("羽绒服" in c.product.title for c in found[:3])
    # 羽绒 also matched, but inside 羽绒服 it is not named twice
    assert found[0].matched_terms == ("冬天", "穿", "羽绒服")
    assert "zh-down-3" not in ids(found)


def test_english_stemming_matches_inflections(index: LexicalIndex) -> None:
    found = index.search("running shoes", Filters(), 5)
    assert set(ids(found)[:2]) == {"en-shoe-1", "en-shoe-2"}  # "Runner's Road Running Shoe" is found
    shoe = next(c for c in found if c.product.id == "en-shoe-1")
    assert shoe.matched_terms == ("running", "shoes")
    assert "en-shoe-3" in ids(found)  # "Dress Shoes": shoes only, ranked lower
    assert ids(found).index("en-shoe-3") > 1


def test_gaming_laptop_finds_gaming_laptops(index: LexicalIndex) -> None:
    found = index.search("a gaming laptop under $1500", Filters(), 4)
    assert {"en-laptop-1", "en-laptop-2"} <= set(ids(found)[:3])
    assert "en-laptop-4" not in ids(index.search("gaming laptop", Filters(), 50))  # out of stock


def test_mixed_script_query(index: LexicalIndex) -> None:
    found = index.search("iPhone 15 手机壳", Filters(), 3)
    assert ids(found)[:2] == ["zh-case-1", "en-case-1"]


def test_no_matching_terms_gives_nothing(index: LexicalIndex) -> None:
    assert index.search("zzzz qqqq", Filters(), 5) == []
    assert index.search("I want to buy something", Filters(), 5) == []  # only stopwords
    assert index.search("我想买", Filters(), 5) == []
    assert index.search("rain jacket", Filters(), 0) == []


def test_filters_that_exclude_the_top_hits_return_the_next_matches(index: LexicalIndex) -> None:
    unfiltered = index.search("rain jacket", Filters(), 1)
    assert ids(unfiltered) == ["en-rain-2"]  # Patagonia
    found = index.search("rain jacket", Filters(brand="columbia"), 2)
    assert ids(found) == ["en-rain-1", "en-rain-3"]
    cheap = index.search("gaming laptop", Filters(price_max=1000), 5)
    assert ids(cheap) and all(c.product.price <= 1000 for c in cheap)
    assert "en-laptop-2" in ids(cheap)


def test_price_filter_drops_products_without_price(index: LexicalIndex) -> None:
    assert "en-pb-3" in ids(index.search("power bank", Filters(), 10))
    assert "en-pb-3" not in ids(index.search("power bank", Filters(price_min=0), 10))


def test_category_prefix_respects_segments(index: LexicalIndex) -> None:
    found = index.search("rain", Filters(category="clothing/OUTERWEAR"), 10)
    assert "en-rain-3" not in ids(found)  # Clothing/Outerwears
    assert {"en-rain-1", "en-rain-2"} <= set(ids(found))


def test_false_attribute_flags_are_not_indexed(index: LexicalIndex) -> None:
    found = ids(index.search("waterproof", Filters(), 20))
    assert "en-rain-1" in found  # waterproof: true
    assert "en-down-1" not in found  # waterproof: false


def test_title_outweighs_description() -> None:
    products = [
        Product(id="desc", title="Weekend Bag", description="Fits a rain jacket and shoes."),
        Product(id="title", title="Rain Jacket", description="Keeps you dry."),
        Product(id="other", title="Travel Mug", description="Hot coffee."),
    ]
    small = Catalog.of(products)
    analyzer = Analyzer()
    assert ids(LexicalIndex.build(small, analyzer).search("rain jacket", Filters(), 5)) == ["title", "desc"]
    no_description = LexicalIndex.build(small, analyzer, FieldWeights(description=0))
    assert ids(no_description.search("rain jacket", Filters(), 5)) == ["title"]


def test_field_weights_must_be_whole_numbers() -> None:
    with pytest.raises(ValueError):
        FieldWeights(title=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        FieldWeights(brand=-1)


QUERY_WORDS = [
    "rain", "jacket", "down", "gaming", "laptop", "power", "bank", "shoes", "running", "waterproof", "travel",
    "iPhone", "15", "羽绒服", "冬天", "充电宝", "笔记本", "雨衣", "防水", "winter", "columbia", "zzz", "the",
]
prices = st.one_of(st.none(), st.sampled_from([0.0, 25.0, 89.0, 129.0, 279.0, 899.0, 1500.0]), st.floats(0, 10000))


@st.composite
def filters(draw: st.DrawFn) -> Filters:
    lo, hi = draw(prices), draw(prices)
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    category = draw(st.one_of(st.none(), st.sampled_from(
        ["Clothing", "clothing/outerwear", "Clothing/Outerwears", "Electronics", "服装/外套", "数码", "Shoes/Athletic", "Clo"]
    )))
    brand = draw(st.one_of(st.none(), st.sampled_from(["columbia", "波司登", "ASUS", "anker", "nobody"])))
    return Filters(price_min=lo, price_max=hi, category=category, brand=brand, in_stock=draw(st.booleans()))


@settings(max_examples=300, deadline=None)
@given(words=st.lists(st.sampled_from(QUERY_WORDS), min_size=1, max_size=4), f=filters(), n=st.integers(1, 12))
def test_search_properties(index: LexicalIndex, words: list[str], f: Filters, n: int) -> None:
    query = " ".join(words)
    found = index.search(query, f, n)
    assert len(found) <= n
    assert len(set(ids(found))) == len(found)
    assert all(passes(c.product, f) for c in found)
    assert all(c.score > 0 and c.matched_terms for c in found)
    scores = [c.score for c in found]
    assert scores == sorted(scores, reverse=True)
    # filtering loses nothing: the result is the unfiltered ranking with failing products removed
    everything = index.search(query, Filters(in_stock=False), len(index.products))
    expected = [c for c in everything if passes(c.product, f)][:n]
    assert ids(found) == ids(expected)


# -- persistence -----------------------------------------------------------------------------------

QUERIES = ["我想买一款适合冬天穿的羽绒服", "gaming laptop", "rain jacket", "充电宝 快充", "iPhone 15 case"]


def results(index: LexicalIndex) -> list[list[tuple[str, float, tuple[str, ...]]]]:
    return [[(c.product.id, c.score, c.matched_terms) for c in index.search(q, Filters(), 10)] for q in QUERIES]


def test_save_load_round_trip(tmp_path: Path, catalog: Catalog, analyzer: Analyzer, index: LexicalIndex) -> None:
    index.save(tmp_path / "ix")
    loaded = LexicalIndex.load(tmp_path / "ix", catalog, analyzer)
    assert results(loaded) == results(index)
    assert loaded.weights == index.weights


def test_load_refuses_another_catalog_or_analyzer(tmp_path: Path, catalog: Catalog, analyzer: Analyzer, index: LexicalIndex) -> None:
    index.save(tmp_path / "ix")
    other = Catalog.of(catalog.products[:-1])
    with pytest.raises(CatalogError):
        LexicalIndex.load(tmp_path / "ix", other, analyzer)
    with pytest.raises(CatalogError):
        LexicalIndex.load(tmp_path / "ix", catalog, Analyzer(english_stopwords=()))
    with pytest.raises(FileNotFoundError):
        LexicalIndex.load(tmp_path / "missing", catalog, analyzer)


def lexical_dirs(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith("lexical-"))


def test_load_or_build_persists_and_reuses(tmp_path: Path, catalog: Catalog, analyzer: Analyzer,
                                           index: LexicalIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    built = load_or_build(catalog, tmp_path, analyzer)
    assert results(built) == results(index)
    assert lexical_dirs(tmp_path) == [index_key(catalog, analyzer, FieldWeights(), built.params)]

    def no_build(*args: object, **kwargs: object) -> LexicalIndex:
        raise AssertionError("should have loaded the persisted index")

    monkeypatch.setattr(LexicalIndex, "build", no_build)
    assert results(load_or_build(catalog, tmp_path, analyzer)) == results(index)


def test_changed_catalog_or_weights_get_a_new_index_dir(tmp_path: Path, catalog: Catalog, analyzer: Analyzer) -> None:
    load_or_build(catalog, tmp_path, analyzer)
    changed = Catalog.of([*catalog.products[:-1], catalog.products[-1].model_copy(update={"price": 1.0})])
    assert changed.version != catalog.version
    load_or_build(changed, tmp_path, analyzer)
    load_or_build(catalog, tmp_path, analyzer, FieldWeights(title=5))
    dirs = lexical_dirs(tmp_path)
    assert len(dirs) == 3
    assert sum(catalog.version in d for d in dirs) == 2 and sum(changed.version in d for d in dirs) == 1


def test_corrupt_index_is_rebuilt(tmp_path: Path, catalog: Catalog, analyzer: Analyzer, index: LexicalIndex) -> None:
    load_or_build(catalog, tmp_path, analyzer)
    (ix,) = lexical_dirs(tmp_path)
    (tmp_path / ix / "bm25" / "data.csc.index.npy").write_bytes(b"garbage")
    assert results(load_or_build(catalog, tmp_path, analyzer)) == results(index)
    assert lexical_dirs(tmp_path) == [ix]
    assert results(LexicalIndex.load(tmp_path / ix, catalog, analyzer)) == results(index)


def _build_in_child(index_dir: str, barrier: multiprocessing.synchronize.Barrier, out: multiprocessing.Queue) -> None:
    catalog = load_catalog(FIXTURE, strict=True)
    analyzer = Analyzer(cache_dir=Path(index_dir) / "jieba")
    analyzer.warm_up()
    barrier.wait(timeout=60)
    index = load_or_build(catalog, index_dir, analyzer)
    out.put(results(index))


def test_concurrent_builds_leave_one_valid_index(tmp_path: Path, catalog: Catalog, analyzer: Analyzer, index: LexicalIndex) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=_build_in_child, args=(str(tmp_path), barrier, out)) for _ in range(2)]
    for w in workers:
        w.start()
    answers = [out.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    expected = results(index)
    assert answers == [expected, expected]
    assert len(lexical_dirs(tmp_path)) == 1
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name or p.name.startswith(".trash-")]
    (ix,) = lexical_dirs(tmp_path)
    assert results(LexicalIndex.load(tmp_path / ix, catalog, analyzer)) == expected



def test_ties_keep_catalog_order() -> None:
    twins = Catalog.of([Product(id=f"p{i}", title="Rain Jacket") for i in range(6)])
    found = LexicalIndex.build(twins, Analyzer()).search("rain jacket", Filters(), 4)
    assert ids(found) == ["p0", "p1", "p2", "p3"]
    assert len({c.score for c in found}) == 1


def test_unsorted_postings_are_sorted_on_construction(catalog: Catalog, analyzer: Analyzer, index: LexicalIndex) -> None:
    fresh = LexicalIndex.build(catalog, analyzer)
    scores = fresh._bm25.scores
    indptr = scores["indptr"]
    for start, end in zip(indptr[:-1], indptr[1:]):  # reverse every posting list
        scores["indices"][start:end] = scores["indices"][start:end][::-1].copy()
        scores["data"][start:end] = scores["data"][start:end][::-1].copy()
    rebuilt = LexicalIndex(catalog, analyzer, fresh.weights, fresh.params, fresh._bm25, fresh._names)
    assert results(rebuilt) == results(index)


def test_matched_terms_name_the_longest_matching_words(analyzer: Analyzer) -> None:
    small = Catalog.of([Product(id="coat", title="连帽羽绒服"), Product(id="quilt", title="白鹅绒羽绒被")])
    found = {c.product.id: c.matched_terms for c in LexicalIndex.build(small, analyzer).search("羽绒服", Filters(), 5)}
    assert found == {"coat": ("羽绒服",), "quilt": ("羽绒",)}


def test_ruled_out_phrases_match_names_not_descriptions(analyzer: Analyzer) -> None:
    small = Catalog.of(
        [
            Product(id="rain", title="Packable Rain Jacket", category="Clothing/Outerwear/Rain Jackets"),
            Product(id="down", title="Down Jacket", description="Sheds light rain; a jacket for cold days."),
            Product(id="shell", title="Storm Shell", category="Clothing/Outerwear/Rain Jackets"),
            Product(id="vest", title="羽绒马甲 轻薄", category="Clothing/Outerwear/Down"),
            Product(id="coat", title="羽绒服 长款", category="Clothing/Outerwear/Down"),
        ]
    )
    index = LexicalIndex.build(small, analyzer)
    found = [c.product.id for c in index.search("jacket", Filters(exclude_terms=["rain jackets"]), 5)]
    assert found == ["down"]  # the category says what the shell is; the down jacket only mentions rain
    found = [c.product.id for c in index.search("羽绒", Filters(exclude_terms=["羽绒马甲"]), 5)]
    assert found == ["coat"]
    assert {c.product.id for c in index.search("jacket", Filters(exclude_terms=["umbrella"]), 5)} == {"rain", "down", "shell"}


def test_currency_and_excluded_brands(analyzer: Analyzer) -> None:
    small = Catalog.of(
        [
            Product(id="a", title="running shoe", brand="Nike", price=90, currency="USD"),
            Product(id="b", title="running shoe", brand="Asics", price=80, currency="USD"),
            Product(id="c", title="跑步鞋 running shoe", brand="李宁", price=399, currency="CNY"),
        ]
    )
    index = LexicalIndex.build(small, analyzer)
    assert [c.product.id for c in index.search("running shoe", Filters(currency="CNY"), 5)] == ["c"]
    assert {c.product.id for c in index.search("running shoe", Filters(exclude_brands=["nike"]), 5)} == {"b", "c"}
    for candidate in index.search("running shoe", Filters(exclude_brands=["NIKE"], currency="USD"), 5):
        assert passes(candidate.product, Filters(exclude_brands=["NIKE"], currency="USD"))
