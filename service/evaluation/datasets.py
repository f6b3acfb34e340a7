"""Load judged search-relevance datasets as a catalog plus graded queries.

The public datasets are read in place from a datasets directory and never
copied into the repository or the package (their licences are Kaggle
competition terms): see :func:`resolve_datasets_dir`.

Identity and deduplication ("a product is its text"):

* ``crowdflower`` (``crowdflower-search/train.csv.zip``): the file has no
  product ids. Rows with the same title and the same raw description are one
  product (9,913 products); its id is ``cf-`` plus the first 12 hex digits of
  the SHA-1 of ``title + "\\x1f" + raw description``, so ids survive row order.
  HTML is stripped from descriptions (tags removed, ``<style>``/``<script>``
  bodies dropped, entities decoded, whitespace collapsed).
* ``homedepot`` (``homedepot-search/train.csv.zip``, ISO-8859-1, titles only):
  a ``product_uid`` keeps the title of its first row (15 uids carry two
  near-identical titles), then uids with an identical title are one product
  (54,667 uids -> 53,489 products; 902 titles are shared by 2+ uids). Its id
  is ``hd-`` plus the smallest uid. Identical texts are indistinguishable to
  any text retriever, so keeping them apart would only add ties and split one
  product's judgments over copies that count as unjudged.
* Repeated judgments of one (query, product) pair are averaged (CrowdFlower has
  145 repeated triples; merged Home Depot uids can be judged for one query).
* ``qid`` is ``q-`` plus 12 hex digits of the SHA-1 of the query text, so the
  hash split of :mod:`service.evaluation.runner` is stable.

Gains and relevance (:class:`Grading`) are decided per dataset:

* gain = ``2 ** (grade - min_grade) - 1``, exponential so a perfect match
  outweighs several partial ones; unjudged = 0. CrowdFlower grades 1-4 give
  gains 0, 1, 3, 7; Home Depot mean scores 1.0-3.0 give 0 ... 3 on the raw
  mean (README: "you can also use the raw mean as a graded gain"), so rater
  disagreement is kept (2.67 -> 2.17, 2.33 -> 1.52) and one formula serves
  both. This is the mapping that reproduces the issue's baselines (see
  :mod:`service.evaluation`).
* relevant (recall, MRR) = ``grade >= relevant_at``: CrowdFlower >= 3 (the upper
  half of its 4-point scale, 4 = fully relevant); Home Depot >= 2.5, i.e. the
  mean rounds to 3, "Perfect match" in the rater guidelines (2 is "partially
  or somewhat relevant": same kind of product but another brand, size or
  spec, which the shopper did not ask for).

Our own JSONL format, for a shop's data (``load_jsonl``): a catalog file in
shopguide's catalog format (``--catalog``, JSONL or CSV, see
:func:`service.catalog.load.load_catalog`) and a queries file with one JSON
object per line::

    {"query": "warm winter jacket", "relevant": {"p-102": 3, "p-007": 1}}
    {"qid": "q42", "query": "usb-c charger", "relevant": {"p-311": 2}}

``qid`` is optional (default: derived from the query text; must be unique).
Grades are numbers >= 0 with 0 = judged irrelevant; gain = ``2 ** grade - 1``
and relevant = grade >= 1 unless ``relevant_at`` says otherwise. Every product
id in ``relevant`` must be in the catalog.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import zipfile
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from html.parser import HTMLParser
from pathlib import Path

from pydantic import ValidationError

from service.catalog.load import Catalog, load_catalog
from service.catalog.product import Product
from service.errors import CatalogError, ConfigError
from service.settings import REPO_ROOT

CROWDFLOWER = "crowdflower"
HOMEDEPOT = "homedepot"
_DATASET_FILES = {
    CROWDFLOWER: Path("crowdflower-search") / "train.csv.zip",
    HOMEDEPOT: Path("homedepot-search") / "train.csv.zip",
}
_ALIASES = {"crowdflower-search": CROWDFLOWER, "homedepot-search": HOMEDEPOT, "home-depot": HOMEDEPOT}
# Product.title allows at most 1000 characters; a few scraped titles are longer.
_MAX_TITLE = 1000


@dataclass(frozen=True)
class Grading:
    """How a dataset's grades become nDCG gains and binary relevance."""

    min_grade: float
    relevant_at: float

    def gain(self, grade: float) -> float:
        return max(0.0, 2.0 ** (grade - self.min_grade) - 1.0)

    def is_relevant(self, grade: float) -> bool:
        return grade >= self.relevant_at


CROWDFLOWER_GRADING = Grading(min_grade=1, relevant_at=3)
HOMEDEPOT_GRADING = Grading(min_grade=1, relevant_at=2.5)
JSONL_GRADING = Grading(min_grade=0, relevant_at=1)


@dataclass(frozen=True)
class EvalQuery:
    """One judged query: product id -> grade (on the dataset's own scale)."""

    qid: str
    text: str
    judgments: Mapping[str, float]


@dataclass
class EvalDataset:
    """A catalog and its judged queries, with the dataset's gain/relevance rules."""

    name: str
    products: list[Product]
    queries: list[EvalQuery]
    grading: Grading
    source: str = ""

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog.of(self.products)

    def gains(self, query: EvalQuery) -> dict[str, float]:
        return {pid: self.grading.gain(grade) for pid, grade in query.judgments.items()}

    def relevant(self, query: EvalQuery) -> set[str]:
        return {pid for pid, grade in query.judgments.items() if self.grading.is_relevant(grade)}


def resolve_datasets_dir(explicit: str | Path | None = None) -> Path:
    """The datasets directory: ``explicit`` (``--datasets-dir``, else the setting ``SHOPGUIDE_DATASETS_DIR``),
    else the nearest ``shared/datasets``.

    The default is ``../shared/datasets`` relative to the repository root; for a
    git worktree nested deeper (``wt/<name>``) the nearest ancestor holding
    ``shared/datasets`` is used.

    :raises ConfigError: if the directory does not exist.
    """
    if explicit is not None:
        where = Path(explicit).expanduser()
        if not where.is_dir():
            raise ConfigError(f"--datasets-dir: datasets directory not found: {where}")
        return where
    for ancestor in REPO_ROOT.parents:
        candidate = ancestor / "shared" / "datasets"
        if candidate.is_dir():
            return candidate
    raise ConfigError(
        "no datasets directory: set SHOPGUIDE_DATASETS_DIR or --datasets-dir "
        f"(looked for shared/datasets above {REPO_ROOT})"
    )


def load_dataset(
    name_or_path: str | Path,
    *,
    datasets_dir: str | Path | None = None,
    catalog: str | Path | None = None,
) -> EvalDataset:
    """A named public dataset (``crowdflower``, ``homedepot``) or a queries JSONL file with ``catalog``.

    :raises ConfigError: unknown name, missing datasets directory, or a JSONL file without ``catalog``.
    :raises CatalogError: a dataset file that cannot be read or parsed.
    """
    key = str(name_or_path).strip().lower()
    key = _ALIASES.get(key, key)
    if key in _DATASET_FILES:
        path = resolve_datasets_dir(datasets_dir) / _DATASET_FILES[key]
        return load_crowdflower(path) if key == CROWDFLOWER else load_homedepot(path)
    path = Path(name_or_path)
    if not path.is_file():
        raise ConfigError(
            f"--dataset: {name_or_path!r} is neither a known dataset ({', '.join(sorted(_DATASET_FILES))}) nor a file"
        )
    if catalog is None:
        raise ConfigError(f"--catalog is required to evaluate on {path} (its products come from a catalog file)")
    return load_jsonl(path, catalog)


def load_crowdflower(path: str | Path) -> EvalDataset:
    """CrowdFlower search relevance: 261 queries, grades 1-4, title + HTML-stripped description.

    :raises CatalogError: if the file is missing or malformed.
    """
    path = Path(path)
    products: dict[str, Product] = {}
    grades: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for line, row in _zip_csv_rows(path, encoding="utf-8", columns=("query", "product_title", "median_relevance")):
        title = row["product_title"].strip()
        raw_description = row.get("product_description") or ""
        pid = "cf-" + hashlib.sha1(f"{title}\x1f{raw_description}".encode()).hexdigest()[:12]
        if pid not in products:
            products[pid] = _product(path, line, pid, title, strip_html(raw_description))
        grades[row["query"].strip()][pid].append(_number(path, line, row["median_relevance"]))
    return _dataset(CROWDFLOWER, path, list(products.values()), grades, CROWDFLOWER_GRADING)


def load_homedepot(path: str | Path) -> EvalDataset:
    """Home Depot search relevance: 11,795 queries, mean grades 1.0-3.0, titles only (ISO-8859-1).

    :raises CatalogError: if the file is missing or malformed.
    """
    path = Path(path)
    rows = list(
        _zip_csv_rows(path, encoding="iso-8859-1", columns=("product_uid", "product_title", "search_term", "relevance"))
    )
    title_of: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for line, row in rows:
        uid = row["product_uid"].strip()
        if uid not in title_of:
            title_of[uid] = row["product_title"].strip()
            first_line[uid] = line
    uids_by_title: dict[str, list[str]] = defaultdict(list)
    for uid, title in title_of.items():
        uids_by_title[title].append(uid)
    pid_of: dict[str, str] = {}
    products: list[Product] = []
    for title, uids in uids_by_title.items():
        smallest = min(uids, key=_uid_key)
        pid = f"hd-{smallest}"
        products.append(_product(path, first_line[smallest], pid, title, ""))
        pid_of.update(dict.fromkeys(uids, pid))
    grades: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for line, row in rows:
        grades[row["search_term"].strip()][pid_of[row["product_uid"].strip()]].append(
            _number(path, line, row["relevance"])
        )
    return _dataset(HOMEDEPOT, path, products, grades, HOMEDEPOT_GRADING)


def load_jsonl(
    queries_path: str | Path,
    catalog_path: str | Path,
    *,
    name: str | None = None,
    grading: Grading = JSONL_GRADING,
) -> EvalDataset:
    """A shop's own judged queries (format in the module docstring) over its catalog file.

    :raises CatalogError: unreadable files, bad lines, duplicate qids, or judgments of unknown products.
    """
    queries_path = Path(queries_path)
    catalog = load_catalog(catalog_path)
    queries: list[EvalQuery] = []
    seen: dict[str, int] = {}
    try:
        with queries_path.open(encoding="utf-8-sig") as fh:
            for line_no, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                query = _jsonl_query(queries_path, line_no, line, catalog)
                if query.qid in seen:
                    raise CatalogError(
                        f"{queries_path}: line {line_no}: duplicate qid {query.qid!r} (first on line {seen[query.qid]})"
                    )
                seen[query.qid] = line_no
                queries.append(query)
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{queries_path}: cannot read queries: {exc}") from exc
    if not queries:
        raise CatalogError(f"{queries_path}: no queries")
    return EvalDataset(
        name=name or queries_path.stem,
        products=list(catalog.products),
        queries=queries,
        grading=grading,
        source=str(queries_path),
    )


def strip_html(text: str) -> str:
    """Visible text of an HTML fragment: tags and style/script bodies dropped, entities decoded, spaces collapsed."""
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    return " ".join(" ".join(parser.parts).split())


def query_id(text: str) -> str:
    return "q-" + hashlib.sha1(text.encode()).hexdigest()[:12]


class _TextExtractor(HTMLParser):
    _HIDDEN = frozenset({"style", "script"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN and self._hidden_depth:
            self._hidden_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)


def _zip_csv_rows(path: Path, *, encoding: str, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    if not path.is_file():
        raise CatalogError(f"dataset file not found: {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            members = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if len(members) != 1:
                raise CatalogError(f"{path}: expected one CSV inside, found {members}")
            with archive.open(members[0]) as raw:
                reader = csv.DictReader(io.TextIOWrapper(raw, encoding=encoding, newline=""))
                missing = [c for c in columns if c not in (reader.fieldnames or ())]
                if missing:
                    raise CatalogError(f"{path}: missing column(s) {', '.join(missing)}")
                for record in reader:
                    yield reader.line_num, record
    except (OSError, zipfile.BadZipFile, UnicodeDecodeError, csv.Error) as exc:
        raise CatalogError(f"{path}: cannot read dataset: {exc}") from exc


def _product(path: Path, line: int, pid: str, title: str, description: str) -> Product:
    try:
        return Product(id=pid, title=title[:_MAX_TITLE], description=description)
    except ValidationError as exc:
        raise CatalogError(f"{path}: line {line}: bad product: {exc.errors(include_url=False)[0]['msg']}") from None


def _number(path: Path, line: int, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise CatalogError(f"{path}: line {line}: grade is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise CatalogError(f"{path}: line {line}: grade is not finite: {value!r}")
    return number


def _uid_key(uid: str) -> tuple[int, int | str]:
    return (0, int(uid)) if uid.isdigit() else (1, uid)


def _dataset(
    name: str,
    path: Path,
    products: list[Product],
    grades: Mapping[str, Mapping[str, list[float]]],
    grading: Grading,
) -> EvalDataset:
    queries = [
        EvalQuery(
            qid=query_id(text),
            text=text,
            judgments={pid: sum(values) / len(values) for pid, values in judged.items()},
        )
        for text, judged in grades.items()
        if text
    ]
    if not queries:
        raise CatalogError(f"{path}: no judged queries")
    return EvalDataset(name=name, products=products, queries=queries, grading=grading, source=str(path))


def _jsonl_query(path: Path, line_no: int, line: str, catalog: Catalog) -> EvalQuery:
    where = f"{path}: line {line_no}"
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{where}: bad JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(row, dict):
        raise CatalogError(f"{where}: not a JSON object")
    unknown_keys = set(row) - {"qid", "query", "relevant"}
    if unknown_keys:
        raise CatalogError(f"{where}: unknown field(s) {', '.join(sorted(unknown_keys))}")
    text = row.get("query")
    if not isinstance(text, str) or not text.strip():
        raise CatalogError(f"{where}: 'query' must be a non-empty string")
    relevant = row.get("relevant")
    if not isinstance(relevant, dict) or not relevant:
        raise CatalogError(f"{where}: 'relevant' must be a non-empty object of product id -> grade")
    judgments: dict[str, float] = {}
    for pid, grade in relevant.items():
        if isinstance(grade, bool) or not isinstance(grade, (int, float)) or not math.isfinite(grade) or grade < 0:
            raise CatalogError(f"{where}: grade of {pid!r} must be a number >= 0, got {grade!r}")
        judgments[str(pid)] = float(grade)
    unknown = sorted(pid for pid in judgments if pid not in catalog.by_id)
    if unknown:
        shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise CatalogError(f"{where}: {len(unknown)} judged product id(s) not in the catalog: {shown}")
    qid = row.get("qid")
    if qid is not None and (not isinstance(qid, (str, int)) or isinstance(qid, bool) or not str(qid).strip()):
        raise CatalogError(f"{where}: 'qid' must be a non-empty string or integer")
    text = text.strip()
    return EvalQuery(qid=str(qid).strip() if qid is not None else query_id(text), text=text, judgments=judgments)
