"""What a conversational message does besides stating constraints (English and Chinese).

Each reader finds its phrases in the folded message and blanks them, like the readers of query
understanding, so what is left is read by :class:`~service.retrieve.understand.QueryUnderstanding`
(never a second parser of prices, brands or categories) and "不要这个" is a rejection, not an exclusion
of the word "这个":

- lifts: "any brand is fine", "品牌无所谓", "预算可以高一点", "any colour", "show them again";
- references to what was shown: ordinals ("the second one", "第二个", "#2", "compare 1 and 3"), "the last
  one", "these two"/"这两个", "this/that one"/"这个", a shown product's brand ("that Sonara"), and a
  superlative among them ("the cheaper of the two", "最便宜的那个");
- rejections: "not that one", "不要这个", "不要第二个"; "no more jackets"/"不要再推荐外套了" excludes the words;
- relative refinements: "cheaper"/"便宜点的" (below the cheapest shown), "more expensive", "lighter"/"更轻",
  "bigger screen"/"屏幕大一点", "longer battery life"/"续航更长", "warmer"/"更保暖";
- comparisons ("compare 1 and 3", "which is lighter", "哪个更轻", "有什么区别") and product questions
  ("does the second one have noise cancelling?", "第二个有降噪吗");
- "just show me"/"直接推荐" (no clarifying question), and vague openers ("a gift for my dad", "推荐点好东西").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ORDINALS_EN = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
                "fifth": 4, "5th": 4, "sixth": 5, "6th": 5}
_ZH_DIGITS = {"一": 0, "1": 0, "二": 1, "两": 1, "2": 1, "三": 2, "3": 2, "四": 3, "4": 3, "五": 4, "5": 4, "六": 5, "6": 5}

_CLASSIFIER = r"(?:个|款|件|种|台|双|条|只|部|套|本|瓶|盒|包)"

LIFTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("brand", r"(?:any|whatever|other|different) brands?(?: (?:is|are|will be) (?:fine|ok|okay|good))?"
                  r"|brand (?:doesn'?t|does not) matter|(?:don'?t|do not) care (?:about|which) (?:the )?brand"
                  r"|不限品牌|品牌不限|品牌无所谓|品牌都行|什么(?:品牌|牌子)都(?:行|可以)|哪个(?:品牌|牌子)都(?:行|可以)"
                  r"|牌子无所谓|(?:其他|别的)(?:品牌|牌子)(?:也行|也可以)?"),
        ("price_max", r"(?:budget|price) (?:can|could) be (?:a bit |a little )?(?:higher|more)|(?:can|could) spend more"
                      r"|higher budget|more budget|raise (?:the|my) budget|no (?:upper )?(?:price )?limit"
                      r"|预算(?:可以|能)?(?:再)?(?:高|多|提高|增加)(?:一)?(?:点|些)?|(?:可以|能)(?:再)?贵(?:一)?(?:点|些)"
                      r"|不限价|价格不限|预算不限|没有预算"),
        ("attributes", r"(?<![a-z])any colou?r|colou?r (?:doesn'?t|does not) matter|颜色无所谓|颜色不限|什么颜色都(?:行|可以)"),
        ("category", r"any (?:kind|category|type)(?: of product)?|什么(?:类型|种类|品类)都(?:行|可以)|不限品类"),
        ("exclusions", r"show (?:me )?(?:those|them|it|that one) again|再(?:给我)?看看(?:刚才|之前)的"),
    )
)

_ORDINAL_EN = re.compile(
    r"(?<![a-z])(?:the )?(?P<word>first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|sixth|6th)(?![a-z])"
    r"(?: (?:one|item|option|product|pick))?"
    # "last" is a reference only as "the last" or "last one": "how long does the battery last?" points at nothing
    r"|(?<![a-z])(?P<word_last>the last(?: (?:one|item|option|product|pick))?|last (?:one|item|option|product|pick))(?![a-z])"
    r"|(?:#|no\.? ?|number |item |option )(?P<num>[1-9])\b"
)
_ORDINAL_ZH = re.compile(rf"第(?P<n>[一二两三四五六1-6]){_CLASSIFIER}?|最后(?:一)?{_CLASSIFIER}|最后那{_CLASSIFIER}?")
_FIRST_N = re.compile(r"(?:the )?first (?P<en>two|three|2|3)(?![a-z])|前(?P<zh>[两二三23]){_CLASSIFIER}?".replace("{_CLASSIFIER}", _CLASSIFIER))
_LAST_N = re.compile(r"(?:the )?last (?P<en>two|three|2|3)(?![a-z])|(?:后|最后)(?P<zh>[两二三23]){_CLASSIFIER}".replace("{_CLASSIFIER}", _CLASSIFIER))
# "first of all", "at first", "at last": no product is pointed at
_NOT_ORDINAL = re.compile(r"(?<![a-z])(?:first of all|at first|first off|at last|at long last)(?![a-z])")
_PAIR = re.compile(rf"(?:both|these two|those two|the two|the pair|这两{_CLASSIFIER}?|那两{_CLASSIFIER}?|两{_CLASSIFIER}(?=.*(?:哪|比|区别|不同)))")
_THIS = re.compile(
    rf"(?<![a-z])(?:this|that|the same) one(?![a-z])|(?<![a-z])it(?![a-z])|(?:这|那)(?:一)?{_CLASSIFIER}|它"
)
_SUPERLATIVE = re.compile(
    r"the (?P<en>cheap|expensive|light|heav)(?:er|est|ier|iest)(?: one)?(?: of (?:the|these|those) (?:two|three|ones))?"
    r"|(?:最)?(?P<zh>便宜|贵|轻|重)(?:的|一点的)?那(?:一)?" + _CLASSIFIER
)
_REJECT = re.compile(
    r"(?:^|[\s,，。.!！])(?:no[,，]? )?(?:not|don'?t (?:want|like)|do not (?:want|like)|skip|remove|drop|hide|exclude|"
    r"i'?m not interested in|not interested in)\s+(?=(?:the |that |this |it\b|#|number |item |option |first|second|third|"
    r"fourth|fifth|last|1st|2nd|3rd|[^\s]+ one))"
    r"|(?:不要|不想要|不喜欢|去掉|排除|别推荐|别要)(?=(?:第|这|那|最后|它|前))"
    r"|(?:这|那)(?:一)?" + _CLASSIFIER + r"?(?:不行|不好|不要|不喜欢|pass)|换(?:一|个)(?:个|款)?(?:吧|别的)?$"
)
_NO_MORE = re.compile(
    r"no more (?P<en>[a-z][a-z -]{1,30}?)(?=[,.!?]|$| please)"
    r"|(?:不要|别)(?:再)?(?:推荐|给我看|看|要)?(?:了)?(?P<zh>[^\s，。！？,.!?了的]{1,8}?)了"
)
_RELATIVE: tuple[tuple[str, str, re.Pattern[str]], ...] = tuple(
    (dimension, op, re.compile(pattern))
    for dimension, op, pattern in (
        ("price", "lt", r"(?<!the )(?<![a-z])(?:cheaper|less expensive|lower[- ]priced|more affordable)(?![a-z])"
                        r"|(?:更|再)?便宜(?:一)?(?:点|些)?(?:儿)?(?:的)?(?!那)|(?:更|再)便宜|价格(?:再)?低(?:一)?(?:点|些)"),
        ("price", "gt", r"(?<!the )(?:more expensive|pricier|higher[- ]end|(?:更|再)贵(?:一)?(?:点|些)?的?|贵(?:一)?(?:点|些)的)"),
        ("weight", "lt", r"(?<!the )(?<![a-z])(?:lighter|less heavy)(?![a-z])|(?:更|再)?轻(?:一)?(?:点|些)(?:的)?|更轻|轻便一点"),
        ("screen", "gt", r"(?:bigger|larger) (?:screen|display)|(?:屏幕|屏)(?:更|再)?大(?:一)?(?:点|些)?|更大的?屏|大一点的屏"),
        ("screen", "lt", r"smaller (?:screen|display)|(?:屏幕|屏)(?:更|再)?小(?:一)?(?:点|些)?|更小的?屏"),
        ("battery_life", "gt", r"longer battery(?: life)?|better battery life|lasts? longer|续航(?:更|再)?(?:长|久)(?:一)?(?:点|些)?"),
        ("battery", "gt", r"(?:bigger|larger|more) (?:battery|capacity)|容量(?:更|再)?大(?:一)?(?:点|些)?|电池(?:更|再)?大"),
        ("storage", "gt", r"more storage|(?:bigger|larger) storage|存储(?:空间)?(?:更|再)?大(?:一)?(?:点|些)?"),
        ("warmth", "lt", r"(?<![a-z])warmer(?![a-z])|(?:更|再)(?:暖和|保暖)(?:一)?(?:点|些)?|暖和(?:一)?(?:点|些)"),
    )
)
_COMPARE = re.compile(
    r"(?<![a-z])(?:compare|comparison|versus|vs\.?|difference|differ)(?![a-z])"
    r"|(?<![a-z])which (?:one |of (?:these|them|those|the two|the three) )?(?:is|has|are|would|should|lasts?)(?![a-z])"
    r"|比较|对比|比一比|比一下|哪(?:个|款|一个|一款)(?:更|比较|好|最)|有(?:什么|啥)(?:区别|不同)|区别|哪个好"
)
_COMPARATIVE_DIMENSION = (
    ("weight", re.compile(r"lighter|lightest|heavier|weigh|轻|重量|重")),
    ("price", re.compile(r"cheaper|cheapest|pricier|expensive|price|cost|便宜|贵|价格|价钱")),
    ("screen", re.compile(r"screen|display|屏")),
    ("battery_life", re.compile(r"battery life|lasts? longer|续航")),
    ("battery", re.compile(r"battery|capacity|容量|电池")),
    ("storage", re.compile(r"storage|存储")),
    ("warmth", re.compile(r"warm|暖和|保暖")),
)
_QUESTION_EN = re.compile(
    r"^(?:and |so |also |but )?(?:does|do|is|are|has|have|can|will|would)\b"
    r"(?:.*?\b(?:have|has|support|supports|come with|comes with|include|includes|with|got)\s+(?P<feature>.+?)"
    r"|\s+(?:it\s+|that\s+|this\s+|one\s+|they\s+)?(?P<adj>[a-z][a-z -]*?))\s*\??$"
)
_QUESTION_ZH = re.compile(r"(?:有没有|有|支持|带|是不是|是|能)(?P<feature>[^\s，。？?！!]{1,12}?)(?:吗|么|嘛|没有|不)[？?]?$|(?P<adj>[^\s，。？?！!]{1,6}?)(?:吗|么|嘛)[？?]?$")
# Questions for a value of a shown product ("what is the fill weight of the first one?", "how heavy is it?",
# "第一个的充绒量是多少", "第二个多重"): the whole question is kept, as the answer reads the dimension from it.
_VALUE_EN = re.compile(
    r"^(?:and |so |also |but )?(?:what(?:'s| is| are| was)\s+(?:the\s+|its\s+)?(?P<feature>[a-z][a-z0-9 -]*?)"
    r"(?:\s+(?:of|on|for|in)(?:\s+(?:it|that|this|them))?)?"
    r"|what\s+(?P<kind>[a-z]+)\s+(?:does|do|is|are|can)\b.*?"
    r"|how (?:is|are|good is) (?:the\s+|its\s+)(?P<how>[a-z][a-z0-9 -]*?)(?:\s+(?:of|on|for|in)(?:\s+(?:it|that|this|them))?)?"
    r"|how\s+(?:heavy|big|large|long|warm|much|many|wide|tall|fast)\b.*?)\s*\??$"
)
# "What about it?": the product pointed at, described from its data ("第一个怎么样", "tell me about the second one")
_ABOUT = re.compile(
    r"^(?:and |so |but )?(?:what about|how about|how is|how's|how are|tell me (?:more )?about|more about|details?(?: of| on)?)"
    r"(?:\s+and)?\s*\??$"
    r"|^[那么和与跟\s]*(?:怎么样|咋样|如何|好不好|好吗|介绍一下|介绍介绍|说说|详细说说|具体说说)(?:呢|啊|吧)?[？?]?$"
)
# Not a question for a value: "what else", "cheaper than", "比第一个便宜的有哪些", "还有什么类似的"
_NOT_VALUE = re.compile(r"(?<![a-z])(?:else|than|like|similar|other|others)(?![a-z])|还有|类似|一样|比|别的|其他|其它|推荐")
_VALUE_ZH = re.compile(
    r"(?P<feature>[^\s，。？?！!]{0,10}?)(?:是多少|有多少|多少|是几|有几|几)(?:种|个|款|样)?(?P<after>[^\s，。？?！!]{0,4}?)[？?呢]?$"
    r"|(?P<what>[^\s，。？?！!]{0,10}?)(?:是什么|是啥|有哪些|是哪些|有什么|有啥|有哪几种)(?P<kind>[^\s，。？?！!]{0,4}?)[？?呢]?$"
    r"|多(?:重|沉|大|长|宽|高|厚|暖)(?:呢|啊)?[？?]?$"
)
_JUST_SHOW = re.compile(
    r"just show|show me (?:anything|something|what you have|some(?:thing)?s?)|surprise me|no questions"
    r"|直接推荐|随便推荐|直接看看|随便看看|先看看|不用问|直接给我看|都可以，?推荐"
)
_GENERIC = re.compile(
    r"(?<![a-z])(?:a|an|the|some|something|anything|any|gift|gifts|present|presents|for|my|me|i|i'?d|i'?m|want|wants|"
    r"need|looking|look|recommend|recommendation|suggest|suggestion|good|nice|great|cool|best|stuff|thing|things|please|"
    r"can|could|you|show|what|buy|to|get|dad|father|mom|mum|mother|parents|friend|boyfriend|girlfriend|wife|husband|"
    r"kid|kids|son|daughter|him|her|them|someone|birthday|christmas|holiday|like|would|help|with|find|of|and|or|"
    r"hi|hello|hey|shopping|idea|ideas|actually|also|instead|maybe|then|ok|okay|fine|is|are|be|more|other|options|"
    r"ones|one|those|these|again|now|there|here|it|that|this|too|so|well|sure|yes|no|thanks|thank|than)(?![a-z])"
    r"|推荐|推荐点|一些|好东西|东西|礼物|送|给|我|你|爸爸|妈妈|父亲|母亲|老爸|老妈|爸|妈|朋友|男朋友|女朋友|老婆|老公|孩子|"
    r"生日|节日|买|想|要|什么|好|的|吧|呢|啊|呀|帮|看看|有|没有|一下|个|些|点|请|您好|你好|嗨|挑|选|找|一|款|件|样|"
    r"其实|还是|那|就|也|再|换|可以|行|吗|嗯|哦|谢谢|随便|都"
)


@dataclass
class Reading:
    """What one message does besides its constraints. Positions index the products shown last."""

    text: str  # the folded message with every phrase read here blanked out: what understanding reads
    lifts: set[str] = field(default_factory=set)
    positions: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)  # positions pointed at that were not shown
    pair: bool = False  # "these two" / "这两个"
    this: bool = False  # "this one" / "这个" / "it"
    superlative: tuple[str, str] | None = None  # ("price", "lt"): the cheaper/cheapest of those referred to
    reject: bool = False
    no_more: list[str] = field(default_factory=list)
    relative: list[tuple[str, str]] = field(default_factory=list)
    compare: bool = False
    compare_dimension: str | None = None
    feature: str | None = None  # a product question: the feature asked about
    value: str | None = None  # a question for a value of a pointed-at product: the question's words
    about: bool = False  # nothing in particular asked of it ("第一个怎么样"): it is described from its facts
    just_show: bool = False

    @property
    def points(self) -> bool:
        return bool(self.positions or self.pair or self.this or self.superlative)


def _blank(text: str, span: tuple[int, int]) -> str:
    start, end = span
    return text[:start] + " " * (end - start) + text[end:]


def read(text: str, shown: int) -> Reading:
    """Read a folded message (NFKC, case-folded) with ``shown`` products on screen."""
    r = Reading(text=text)
    for name, pattern in LIFTS:
        for match in pattern.finditer(r.text):
            r.lifts.add(name)
            r.text = _blank(r.text, match.span())
    r.just_show = bool(_JUST_SHOW.search(r.text))
    for match in _REJECT.finditer(r.text):
        r.reject = True
        r.text = _blank(r.text, match.span())
    for match in _NO_MORE.finditer(r.text):
        word = (match.group("en") or match.group("zh") or "").strip()
        if word and not re.fullmatch(r"(?:这|那)(?:一)?" + _CLASSIFIER + "?|它", word):
            r.no_more.append(word)
            r.text = _blank(r.text, match.span())
    compare = _COMPARE.search(r.text)
    if compare:
        r.compare = True
        for dimension, pattern in _COMPARATIVE_DIMENSION:
            if pattern.search(r.text):
                r.compare_dimension = dimension
                break
    for match in _SUPERLATIVE.finditer(r.text):
        word = match.group("en") or match.group("zh")
        dimension, op = {
            "cheap": ("price", "lt"), "便宜": ("price", "lt"), "expensive": ("price", "gt"), "贵": ("price", "gt"),
            "light": ("weight", "lt"), "轻": ("weight", "lt"), "heav": ("weight", "gt"), "重": ("weight", "gt"),
        }[word]
        r.superlative = (dimension, op)
        r.text = _blank(r.text, match.span())
    for match in _NOT_ORDINAL.finditer(r.text):
        r.text = _blank(r.text, match.span())
    for match in _FIRST_N.finditer(r.text):
        n = {"two": 2, "2": 2, "three": 3, "3": 3, "两": 2, "二": 2, "三": 3}[match.group("en") or match.group("zh")]
        r.positions.extend(range(n))
        r.text = _blank(r.text, match.span())
    for match in _LAST_N.finditer(r.text):
        n = {"two": 2, "2": 2, "three": 3, "3": 3, "两": 2, "二": 2, "三": 3}[match.group("en") or match.group("zh")]
        r.positions.extend(range(max(0, shown - n), shown))
        r.text = _blank(r.text, match.span())
    pointed_at: list[tuple[int, int]] = []  # (where in the message, position) of each ordinal
    for match in _ORDINAL_EN.finditer(r.text):
        word, num = match.group("word"), match.group("num")
        r.positions.append(shown - 1 if match.group("word_last") else _ORDINALS_EN[word] if word else int(num) - 1)
        pointed_at.append((match.start(), r.positions[-1]))
        r.text = _blank(r.text, match.span())
    for match in _ORDINAL_ZH.finditer(r.text):
        n = match.group("n")
        r.positions.append(_ZH_DIGITS[n] if n else shown - 1)
        pointed_at.append((match.start(), r.positions[-1]))
        r.text = _blank(r.text, match.span())
    if r.compare and not r.positions:  # "compare 1 and 3": bare numbers name positions in a comparison
        for match in re.finditer(r"(?<![\d.])([1-9])(?![\d.%]|\s*(?:元|块|yuan|usd|rmb|\$|¥|k\b))", r.text):
            r.positions.append(int(match.group(1)) - 1)
            r.text = _blank(r.text, match.span())
    r.positions = list(dict.fromkeys(r.positions))
    r.missing = [p for p in r.positions if not 0 <= p < shown]
    r.positions = [p for p in r.positions if 0 <= p < shown]
    for match in _PAIR.finditer(r.text):
        r.pair = True
        r.text = _blank(r.text, match.span())
    for match in _THIS.finditer(r.text):
        r.this = True
        r.text = _blank(r.text, match.span())
    if not r.compare:
        for dimension, op, pattern in _RELATIVE:
            for match in pattern.finditer(r.text):
                if (dimension, op) not in r.relative:
                    r.relative.append((dimension, op))
                r.text = _blank(r.text, match.span())
    if shown and not r.compare:
        clauses = [c for c in re.split(r"\s[-—]+\s|[,，;；:：]", re.sub(r"\s+", " ", r.text)) if c.strip(" .。-—")]
        rest = clauses[-1].strip(" .。-—") if clauses else ""
        asks = r.points and not (r.reject or r.relative or r.no_more or _NOT_VALUE.search(rest))
        value = (_VALUE_EN.search(rest) or _VALUE_ZH.search(rest) or _ABOUT.search(rest)) if asks else None
        question = None if value else _QUESTION_EN.search(rest) or _QUESTION_ZH.search(rest)
        if question:
            feature = (question.group("feature") or question.group("adj") or "").strip(" ?？")
            feature = re.sub(r"^(?:a|an|the|any)\s+", "", feature)
            if feature:
                r.feature = feature
                if r.points:  # a question about a shown product: nothing in it is a new constraint
                    r.text = " " * len(r.text)
        elif value:
            words = " ".join(rest.split()).strip(" ?？呢")
            found = value.groupdict()
            names = (re.sub(r"^(?:的|有|是)+|的$", "", (found.get(g) or "").strip()) for g in ("feature", "what", "kind", "how", "after"))
            r.feature = next((n for n in names if n), "") or words
            r.value = words
            r.about = value.re is _ABOUT
            # the question is its last clause: "the first one is too expensive, what about the second one?"
            separators = [m.end() for m in re.finditer(r"\s[-—]+\s|[,，;；:：]", r.text) if r.text[m.end():].strip(" .。-—?？")]
            asked = [p for at, p in pointed_at if separators and at >= separators[-1]]
            if asked:
                r.positions = [p for p in r.positions if p in asked]
            r.text = " " * len(r.text)
    if r.compare:
        r.text = _blank(r.text, compare.span()) if compare else r.text
    return r


def vague(text: str) -> bool:
    """Whether ``text`` says nothing concrete: only generic words ("a gift for my dad", "推荐点好东西")."""
    rest = _GENERIC.sub(" ", text)
    return not re.search(r"[^\W_]", rest)
