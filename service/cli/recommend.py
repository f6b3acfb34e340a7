"""``shopguide recommend "query"``: what POST /v1/recommend would answer, without a server."""

from __future__ import annotations

import argparse
import json
import uuid

from service.settings import load_settings
from service.validate.base import parse_body
from service.validate.recommend import RecommendRequest


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("recommend", help="recommend products for a shopper's request, or for a shopper")
    parser.add_argument("query", nargs="?", help="the shopper's words (optional with --user: their \"for you\" picks)")
    parser.add_argument("--user", help="the shopper's id: their stored history personalizes the answer")
    parser.add_argument("--recent", action="append", default=[], metavar="PRODUCT_ID",
                        help="a product the shopper saw recently (repeatable, most recent first)")
    parser.add_argument("--include-purchased", action="store_true", help="also recommend products they bought")
    parser.add_argument("--k", type=int, default=5, help="how many products (1-20)")
    parser.add_argument("--language", help="answer language (default: the query's)")
    parser.add_argument("--price-min", type=float)
    parser.add_argument("--price-max", type=float)
    parser.add_argument("--category", help="category prefix, e.g. Clothing/Outerwear")
    parser.add_argument("--brand")
    parser.add_argument("--include-out-of-stock", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the API's JSON response")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    filters = {
        k: v
        for k, v in {
            "price_min": args.price_min,
            "price_max": args.price_max,
            "category": args.category,
            "brand": args.brand,
        }.items()
        if v is not None
    }
    if args.include_out_of_stock:
        filters["in_stock"] = False
    body: dict = {"k": args.k, "filters": filters}
    if args.query is not None:
        body["query"] = args.query
    if args.user or args.recent:
        body["user"] = {"recent_product_ids": args.recent, "include_purchased": args.include_purchased}
        if args.user:
            body["user"]["id"] = args.user
    if args.language:
        body["language"] = args.language
    request = parse_body(RecommendRequest, json.dumps(body))  # the same validation as the API
    from service.app import build_dependencies  # heavy (retrieval index, providers): only for this command

    deps = build_dependencies(load_settings())
    answer = deps.recommend.run(request, uuid.uuid4().hex)
    if args.json:
        print(answer.model_dump_json(indent=2))
        return 0
    status = "degraded (retrieval only)" if answer.degraded else f"{answer.provider} / {answer.model}"
    print(f"{answer.summary}\n[{status}; {answer.timings_ms.total:.0f} ms]\n")
    for rank, item in enumerate(answer.items, start=1):
        price = f"{item.price:g} {item.currency or ''}".strip() if item.price is not None else "-"
        print(f"{rank}. {item.title}  [{item.id}]  {price}  ({item.source})")
        print(f"   {item.reason}")
        if item.because:
            print(f"   because of: {', '.join(item.because)}")
    return 0
