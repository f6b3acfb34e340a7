"""Shopper words that point at catalog categories and brands (English and Chinese).

Category groups name the shopper's words (``aliases``) and the catalog segment names they stand for
(``segments``). A group only takes effect when one of its segment names is a real segment of the
loaded catalog; see :mod:`service.retrieve.understand` for the policy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CategoryGroup:
    aliases: tuple[str, ...]
    segments: tuple[str, ...]


CATEGORY_GROUPS: tuple[CategoryGroup, ...] = (
    CategoryGroup(
        ("down jacket", "down coat", "down parka", "puffer", "puffer jacket", "puffer coat", "parka",
         "羽绒服", "羽绒衣", "羽绒外套", "面包服"),
        ("down", "down jackets", "down coats", "puffer jackets", "puffers", "parkas", "羽绒服"),
    ),
    CategoryGroup(("down vest", "puffer vest", "羽绒马甲", "羽绒背心"), ("down vests", "puffer vests", "羽绒马甲")),
    CategoryGroup(("rain jacket", "raincoat", "rain coat", "雨衣"), ("rain jackets", "raincoats", "rainwear", "雨衣")),
    CategoryGroup(("hardshell", "shell jacket", "冲锋衣"), ("hardshell jackets", "shell jackets", "hardshells", "冲锋衣")),
    CategoryGroup(("jacket", "coat", "outerwear", "外套", "夹克"), ("outerwear", "jackets", "coats", "外套")),
    CategoryGroup(
        ("laptop", "notebook computer", "gaming laptop", "ultrabook", "macbook",
         "笔记本电脑", "笔记本", "游戏本", "轻薄本"),
        ("laptops", "notebooks", "笔记本电脑", "笔记本"),
    ),
    CategoryGroup(
        ("headphones", "headphone", "earphones", "earbuds", "headset", "耳机", "蓝牙耳机", "降噪耳机", "头戴式耳机"),
        ("headphones", "earphones", "earbuds", "耳机"),
    ),
    CategoryGroup(
        ("power bank", "portable charger", "battery pack", "充电宝", "移动电源"),
        ("power banks", "portable chargers", "充电宝", "移动电源"),
    ),
    CategoryGroup(("charger", "充电器", "充电头"), ("chargers", "充电器")),
    CategoryGroup(
        ("running shoes", "running shoe", "running sneakers", "跑鞋", "跑步鞋", "慢跑鞋"),
        ("running shoes", "running", "跑鞋", "跑步鞋"),
    ),
    CategoryGroup(("hiking boots", "hiking shoes", "登山鞋", "徒步鞋"), ("hiking boots", "hiking shoes", "hiking", "登山鞋")),
    CategoryGroup(("boots", "靴子"), ("boots", "靴子")),
    CategoryGroup(("shoes", "sneakers", "鞋子", "运动鞋", "鞋"), ("shoes", "footwear", "sneakers", "鞋", "鞋类")),
    CategoryGroup(
        ("coffee machine", "coffee maker", "espresso machine", "咖啡机", "意式咖啡机", "胶囊咖啡机"),
        ("coffee machines", "coffee makers", "espresso machines", "咖啡机"),
    ),
    CategoryGroup(("coffee beans", "ground coffee", "咖啡豆", "咖啡粉"), ("coffee", "coffee beans", "咖啡", "咖啡豆")),
    CategoryGroup(
        ("sunscreen", "sunblock", "sun cream", "防晒", "防晒霜", "防晒乳", "防晒喷雾"),
        ("sunscreen", "sunscreens", "sun care", "suncare", "防晒"),
    ),
    CategoryGroup(("防晒衣", "防晒服"), ("sun protection clothing", "防晒衣")),
    CategoryGroup(
        ("tea", "tea leaves", "loose leaf tea", "茶叶", "绿茶", "红茶", "乌龙茶", "普洱", "龙井", "白茶"),
        ("tea", "teas", "茶叶", "茶"),
    ),
    CategoryGroup(
        ("phone", "smartphone", "mobile phone", "cell phone", "手机", "智能手机"),
        ("phones", "smartphones", "mobile phones", "cell phones", "手机"),
    ),
    CategoryGroup(("phone case", "手机壳", "手机套"), ("phone cases", "手机壳")),
    CategoryGroup(("tv", "television", "电视", "电视机"), ("tvs", "televisions", "tv", "电视")),
    CategoryGroup(("monitor", "显示器"), ("monitors", "显示器")),
    CategoryGroup(("tablet", "ipad", "平板", "平板电脑"), ("tablets", "平板电脑")),
    CategoryGroup(("smartwatch", "smart watch", "智能手表"), ("smartwatches", "smart watches", "智能手表")),
    CategoryGroup(("backpack", "rucksack", "双肩包", "背包"), ("backpacks", "背包", "双肩包")),
    CategoryGroup(("dress", "连衣裙", "裙子"), ("dresses", "连衣裙")),
    CategoryGroup(("t-shirt", "t shirt", "tshirt", "tee", "t恤", "短袖"), ("t-shirts", "tshirts", "tees", "t恤")),
    CategoryGroup(("hoodie", "sweatshirt", "卫衣"), ("hoodies", "sweatshirts", "卫衣")),
    CategoryGroup(("sweater", "jumper", "毛衣", "针织衫"), ("sweaters", "knitwear", "毛衣")),
    CategoryGroup(("jeans", "牛仔裤"), ("jeans", "牛仔裤")),
    CategoryGroup(("socks", "袜子"), ("socks", "袜子")),
    CategoryGroup(("keyboard", "键盘"), ("keyboards", "键盘")),
    CategoryGroup(("mouse", "鼠标"), ("mice", "mouse", "鼠标")),
    CategoryGroup(("camera", "相机", "单反", "微单"), ("cameras", "相机")),
    CategoryGroup(("speaker", "bluetooth speaker", "音箱", "音响", "蓝牙音箱"), ("speakers", "音箱")),
    CategoryGroup(("tent", "帐篷"), ("tents", "帐篷")),
    CategoryGroup(("yoga mat", "瑜伽垫"), ("yoga mats", "瑜伽垫")),
    CategoryGroup(
        ("vacuum", "vacuum cleaner", "robot vacuum", "吸尘器", "扫地机器人"),
        ("vacuums", "vacuum cleaners", "吸尘器"),
    ),
    CategoryGroup(("air fryer", "空气炸锅"), ("air fryers", "空气炸锅")),
    CategoryGroup(("moisturizer", "face cream", "面霜", "乳液"), ("moisturizers", "face creams", "面霜")),
    CategoryGroup(("lipstick", "口红"), ("lipsticks", "lipstick", "口红")),
    CategoryGroup(("shampoo", "洗发水"), ("shampoo", "shampoos", "洗发水")),
)

# A category word followed by one of these names something *for* that category ("laptop bag",
# "手机壳"), not the category itself. Latin entries are plural-folded.
ACCESSORY_HEADS_LATIN: frozenset[str] = frozenset(
    {
        "case", "cover", "bag", "sleeve", "stand", "charger", "cable", "cord", "protector", "holder", "mount",
        "strap", "band", "adapter", "skin", "sticker", "dock", "filter", "mug", "cup", "grinder", "table", "pad",
        "rack", "hanger", "organizer", "box", "cleaner", "part", "accessory", "battery", "insole", "lace",
        "remote", "bracket", "shelf", "tripod", "screen", "lens", "kettle", "pot", "pod", "capsule", "refill", "hook",
    }
)
ACCESSORY_HEADS_CJK: tuple[str, ...] = (
    "壳", "套", "包", "支架", "膜", "充电器", "充电线", "数据线", "线", "贴", "配件", "垫", "架", "柜", "杯", "壶",
    "刷", "盒", "袋", "收纳", "镜头", "电池", "遥控器", "保护", "底座", "挂件", "鞋带", "清洗", "清洁",
)
# A category word right after these is the target of an accessory ("case for laptop", "适用于手机").
FOR_WORDS_LATIN: tuple[str, ...] = ("for", "fits", "fit", "with", "compatible with")
FOR_WORDS_CJK: tuple[str, ...] = ("适用于", "适用", "适配", "兼容", "用于")

# Catalog segments too generic to infer from a shopper's word alone ("men's running shoes" must not
# become Clothing/Men).
GENERIC_SEGMENTS: frozenset[str] = frozenset(
    {
        "men", "mens", "man", "women", "womens", "woman", "kids", "kid", "boys", "girls", "baby", "unisex",
        "accessories", "accessory", "other", "others", "misc", "miscellaneous", "general", "all", "new", "sale",
        "home", "outdoor", "outdoors", "sport", "sports", "gift", "gifts", "essentials", "basics", "more",
        "其他", "其它", "配件", "全部", "新品", "男", "女",
    }
)

# Chinese names of brands, used only when the catalog carries the brand under its Latin name.
# Ambiguous words are left out on purpose: 苹果 (apple, the fruit), 小米 (millet), 博士 (doctor),
# 哥伦比亚 (the country).
DEFAULT_BRAND_ALIASES: dict[str, str] = {
    "耐克": "Nike",
    "阿迪达斯": "Adidas",
    "阿迪": "Adidas",
    "彪马": "Puma",
    "新百伦": "New Balance",
    "安德玛": "Under Armour",
    "亚瑟士": "ASICS",
    "索尼": "Sony",
    "三星": "Samsung",
    "华为": "Huawei",
    "联想": "Lenovo",
    "戴尔": "Dell",
    "惠普": "HP",
    "华硕": "ASUS",
    "宏碁": "Acer",
    "微软": "Microsoft",
    "罗技": "Logitech",
    "戴森": "Dyson",
    "飞利浦": "Philips",
    "松下": "Panasonic",
    "博世": "Bosch",
    "德龙": "De'Longhi",
    "雀巢": "Nestle",
    "优衣库": "Uniqlo",
    "北面": "The North Face",
    "始祖鸟": "Arc'teryx",
    "巴塔哥尼亚": "Patagonia",
    "兰蔻": "Lancome",
    "雅诗兰黛": "Estee Lauder",
    "欧莱雅": "L'Oreal",
    "资生堂": "Shiseido",
    "安克": "Anker",
    "佳能": "Canon",
    "尼康": "Nikon",
    "大疆": "DJI",
    "任天堂": "Nintendo",
}
