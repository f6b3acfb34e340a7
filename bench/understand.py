"""Latency of QueryUnderstanding.parse over ~100 shopper queries (English and Chinese).

Run from the repository root: ``python -m bench.understand [--catalog PATH] [--rounds N]``.
Prints p50/p99/max of one parse call, wall-clock and CPU time (CPU time is the steadier one on a
shared machine), and the slowest queries. This is a benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time

from service.catalog.load import load_catalog
from service.errors import CatalogError
from service.retrieve.understand import QueryUnderstanding

QUERIES = [
    # English
    "a gaming laptop under $1500", "noise cancelling headphones below 200 dollars", "less than $1,500 laptop",
    "socks <$50", "running shoes $100-$300", "between 100 and 300 dollars for a tent", "hiking boots over $50",
    "at least $20 gift", "a rain jacket around $100", "max 80 usd headphones", "budget of 500 for a camera",
    "laptop 1.5k", "$2k camera", "cheap power bank", "premium coffee machine", "not a rain jacket, something warm",
    "running shoes, no leather", "green tea without sugar", "anything but Nike", "iphone 15 case",
    "32 inch monitor", "2 pack socks", "5000mAh power bank", "trail running shoes for women",
    "I need a warm down jacket for skiing in Hokkaido", "wireless earbuds for the gym", "instant camera for my niece",
    "a board game for 4 players", "dog food for a puppy", "sunscreen SPF 50", "gift for a coffee lover under 30 bucks",
    "best laptop for programming, 16gb ram", "something affordable for a 5 year old", "tent for 3 people",
    "keyboard and mouse combo", "4k tv", "tv under 4k", "luxury skincare set", "in stock only, sony headphones",
    "hoodie, not black or grey", "what should I buy my dad for his birthday", "a backpack that fits a 15 inch laptop",
    "down vest, nothing too expensive", "ultralight sleeping bag", "herbal tea for sleep", "coffee beans, dark roast",
    "stroller that folds with one hand", "a smartwatch with gps, around 250 dollars", "power bank over 20000mah",
    "no more than $50", "price range 100-200", "from $100 to $300",
    # Chinese
    "我想买一款适合冬天穿的羽绒服", "200元以内的蓝牙耳机", "200块以下的充电宝", "不超过300元的跑鞋", "300元左右的防晒霜",
    "500到1000元的咖啡机", "一千元以下的耳机", "两千块以内的手机", "预算3000的笔记本", "1k以内的键盘",
    "价格在100-200之间的茶叶", "500元以上的冲锋衣", "便宜点的充电宝", "性价比高的游戏本", "贵一点没关系，要高端的",
    "不要雨衣", "不要太贵的", "除了耐克还有什么跑鞋", "别推荐羽绒马甲", "iPhone 15 手机壳", "65寸电视",
    "三百五左右的耳机", "1.5万以下的相机", "两万以内的笔记本电脑", "给孩子买个书包", "送女朋友的礼物，五百块左右",
    "有现货的空气炸锅", "适合跑步的耳机", "冬天爬山穿什么", "孕妇可以用的防晒", "想要一个安静一点的键盘",
    "办公室午休用的折叠床", "学生党平价护肤品", "不要雪域的，其他羽绒服都行", "预算3000左右，拍照好的手机",
    "老人用的大字手机", "宝宝的奶粉", "降噪耳机推荐", "露营帐篷四人", "绿茶和乌龙茶", "缺货也行",
    "便宜又好用的吸尘器", "高端咖啡豆", "不要太大的背包", "要不要防水的", "500W以上的吹风机", "不超过1万毫安的充电宝",
    "千万别太贵", "200元的耳机", "羽绒服，200元以内",
]


def _understanding(path: str | None) -> QueryUnderstanding:
    try:
        return QueryUnderstanding.from_catalog(load_catalog(path))
    except CatalogError:
        if path is not None:
            raise
        # No embedded demo catalog in this checkout: a small stand-in tree.
        categories = [
            "Clothing/Outerwear/Down", "Clothing/Outerwear/Rain Jackets", "Electronics/Computers/Laptops",
            "Electronics/Audio/Headphones", "Electronics/Phones/Power Banks", "Shoes/Running", "Grocery/Tea",
            "Home/Kitchen/Coffee Machines", "Beauty/Skincare/Sunscreen", "Sports/Outdoor/Camping/Tents",
        ]
        return QueryUnderstanding(categories, ["Nike", "Sony", "Anker", "雪域", "茗山堂"])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", help="JSONL/CSV catalog (default: the embedded demo catalog)")
    parser.add_argument("--rounds", type=int, default=200, help="parses of each query (default 200)")
    args = parser.parse_args()

    start = time.perf_counter()
    understanding = _understanding(args.catalog)
    print(f"built in {(time.perf_counter() - start) * 1e3:.1f} ms; {len(QUERIES)} queries x {args.rounds} rounds")

    for query in QUERIES:  # warm-up (regex caches, cn2an)
        understanding.parse(query)
    wall: list[float] = []
    cpu: list[float] = []
    per_query: dict[str, list[float]] = {q: [] for q in QUERIES}
    for _ in range(args.rounds):
        for query in QUERIES:
            w0, c0 = time.perf_counter(), time.process_time()
            understanding.parse(query)
            c1, w1 = time.process_time(), time.perf_counter()
            wall.append((w1 - w0) * 1e6)
            cpu.append((c1 - c0) * 1e6)
            per_query[query].append((w1 - w0) * 1e6)

    for label, values in (("wall", wall), ("cpu ", cpu)):
        print(
            f"{label}  p50 {_pct(values, 0.50):7.1f} us   p99 {_pct(values, 0.99):7.1f} us   "
            f"mean {statistics.fmean(values):7.1f} us   max {max(values):8.1f} us"
        )
    print("slowest queries (median wall):")
    medians = sorted(((statistics.median(v), q) for q, v in per_query.items()), reverse=True)
    for median, query in medians[:5]:
        print(f"  {median:7.1f} us  {query}")


if __name__ == "__main__":
    main()
