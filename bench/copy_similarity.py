"""Near-duplicate copy variants: rapidfuzz (what service.copywriting.similar uses) against the standard library's
difflib, on the same pairs, side by side in one run.

Pairs come from the demo catalog (Chinese and English products): for each product, variants written by the
stand-in copywriter (tests.support.copywriter: different angles of one product, which must NOT be duplicates),
and edits of them that must be (identical, one word changed, punctuation and case changed). Reports, per
library: pairs per second, the p50/p99 time of one comparison, and how often the 0.9 threshold gives the
expected verdict. Prints and writes ``bench/results/copy_similarity.json``::

    python bench/copy_similarity.py            # every demo product
    python bench/copy_similarity.py --products 50
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from service.catalog.load import load_catalog  # noqa: E402
from service.copywriting.schema import CopyVariant  # noqa: E402
from service.copywriting.similar import NEAR_DUPLICATE, comparable, similarity  # noqa: E402
from tests.support.copywriter import write_copy  # noqa: E402


def _variants(product, chinese: bool) -> list[CopyVariant]:
    system = "Write everything in Simplified Chinese" if chinese else "Write everything in English"
    body = {
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": f"<product>\n{product.model_dump_json()}\n</product>"},
        ],
        "response_format": {"json_schema": {"schema": {"properties": {"variants": {"minItems": 3}}}}},
    }
    return [CopyVariant(**v) for v in write_copy(body)["variants"]]


def _edits(variant: CopyVariant) -> list[CopyVariant]:
    words = variant.body.split()
    one_word = " ".join(words[:-1] + ["today"]) if len(words) > 3 else variant.body + "！"
    return [
        variant,
        variant.model_copy(update={"body": one_word}),
        variant.model_copy(update={"body": variant.body.upper().replace(",", ";") + "!", "cta": variant.cta + "!"}),
    ]


def pairs(products: int) -> list[tuple[str, str, bool]]:
    out: list[tuple[str, str, bool]] = []
    for product in load_catalog().products[:products]:
        variants = _variants(product, chinese=product.lang == "zh")
        texts = [comparable(v) for v in variants]
        out += [(texts[i], texts[j], False) for i in range(len(texts)) for j in range(i + 1, len(texts))]
        out += [(texts[0], comparable(e), True) for e in _edits(variants[0])]
    return out


def _difflib(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def measure(name: str, score, cases: list[tuple[str, str, bool]]) -> dict[str, float]:
    times, right = [], 0
    for a, b, duplicate in cases:
        started = time.perf_counter()
        value = score(a, b)
        times.append(time.perf_counter() - started)
        right += (value >= NEAR_DUPLICATE) == duplicate
    times.sort()
    return {
        "library": name,
        "pairs": len(cases),
        "pairs_per_s": round(len(cases) / sum(times)),
        "p50_us": round(statistics.median(times) * 1e6, 2),
        "p99_us": round(times[int(len(times) * 0.99) - 1] * 1e6, 2),
        "verdicts_right": round(right / len(cases), 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--out", default=str(REPO_ROOT / "bench" / "results" / "copy_similarity.json"))
    args = parser.parse_args()
    cases = pairs(args.products)
    results = [measure("rapidfuzz fuzz.ratio", similarity, cases), measure("difflib SequenceMatcher", _difflib, cases)]
    rf, dl = results
    agree = sum((similarity(a, b) >= NEAR_DUPLICATE) == (_difflib(a, b) >= NEAR_DUPLICATE) for a, b, _ in cases)
    report = {
        "results": results,
        "speedup_rapidfuzz_over_difflib": round(rf["pairs_per_s"] / dl["pairs_per_s"], 1),
        "same_verdict_share": round(agree / len(cases), 4),
        "threshold": NEAR_DUPLICATE,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "note": "shared 2-core machine (8 helpers at once): ratios are what to read, not absolute times",
        },
    }
    print(json.dumps(report, indent=2))
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
