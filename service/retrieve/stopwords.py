"""Word lists the analyzer uses: stopwords for English and Chinese, and e-commerce words jieba should keep whole.

The lists are tuned for product search: generic function words plus the filler
of shopping requests ("I want to buy", "我想买一款", "推荐"). Words that carry
product meaning stay searchable even where general-purpose lists drop them
("down" as in down jacket, "over" as in over-ear, 上衣/下装 prefixes).
Changing a list changes the analyzer's fingerprint, so persisted indexes rebuild.
"""

from __future__ import annotations

ENGLISH_STOPWORDS: frozenset[str] = frozenset(
    """
    a about above after again against all am an and any are aren't as at be because been before being below
    between both but by can could couldn't did didn't do does doesn't doing don't during each few for from
    further had hadn't has hasn't have haven't having he her here hers herself him himself his how i i'd i'll
    i'm i've if in into is isn't it it's its itself just me more most my myself no nor not now of once only or
    other our ours ourselves own same she should shouldn't so some such than that that's the their theirs them
    themselves then there these they this those through to too until very was wasn't we were weren't what
    when where which while who whom why will with won't would wouldn't you you'd you'll you're you've your
    yours yourself yourselves s t d ll m re ve y
    want wants wanted wanna looking look buy buying purchase need needs find recommend recommendation
    recommendations suggest suggestion please help something anything thing things show give get got
    im id ive dont cant us also one ones any kind sort type e.g etc
    """.split()
)

CHINESE_STOPWORDS: frozenset[str] = frozenset(
    """
    的 地 得 了 着 过 吗 呢 吧 啊 呀 哦 嘛 哈 啦 么 之 与 及 和 跟 同 或 或者 还是 而 而且 并 并且 但 但是 可是
    我 我们 你 你们 您 他 她 它 他们 她们 它们 自己 咱 咱们 俺 本人 大家
    这 那 这个 那个 这些 那些 这款 那款 这种 那种 哪 哪个 哪些 哪款 哪种 哪里 什么 怎么 怎样 如何 为什么 多少
    是 有 在 为 被 把 让 给 对 从 向 往 于 以 用 到 就 都 也 还 又 再 才 只 很 太 更 最 非常 特别 比较 挺 十分 有点
    想 想要 要 需要 打算 准备 希望 求 请 请问 麻烦 帮 帮忙 帮我 能 能够 可以 会 应该 一下 一点 一些 一个 一款 一件
    一双 一台 一部 一种 一只 一条 一套 个 款 件 种 些 买 购买 入手 选 选择 挑 推荐 介绍 适合 合适 适用 有没有 没有 有无
    好 好的 好用 好看 不错 哪家 值得 什么样 类似 之类 等 等等 啊 嗯 吧 呗 一般 东西 商品 产品
    """.split()
)

# Compounds jieba's default dictionary splits (充电宝 -> 充电/宝); kept whole, search mode still emits the parts.
ECOMMERCE_WORDS: tuple[str, ...] = (
    "充电宝", "移动电源", "手机壳", "手机膜", "钢化膜", "数据线", "充电器", "快充", "蓝牙耳机", "降噪耳机",
    "游戏本", "轻薄本", "机械键盘", "显卡", "固态硬盘", "冲锋衣", "羽绒服", "羽绒被", "雨衣", "雨伞", "雨靴",
    "跑鞋", "运动鞋", "登山鞋", "卫衣", "连帽", "保暖", "加厚", "白鸭绒", "白鹅绒", "防水", "防风", "速干",
    "扫地机器人", "空气炸锅", "电饭煲", "保温杯", "面膜", "防晒霜", "口红",
)
