"""The Chinese keywords of the sentiment topics (apps.sentiment.text.TOPICS has the English)."""

from __future__ import annotations

# Chinese keywords of each topic, matched on the segmenter's words (no inflection to handle).
TOPICS_ZH: dict[str, tuple[str, ...]] = {
    "earnings": (
        "财报",
        "业绩",
        "营收",
        "收入",
        "净利润",
        "利润",
        "季度",
        "每股收益",
        "盈利",
        "亏损",
    ),
    "guidance": ("指引", "展望", "预期", "预测", "全年", "上调", "下调"),
    "mna": ("收购", "并购", "合并", "要约", "入股", "出售", "剥离"),
    "litigation": ("诉讼", "起诉", "法院", "和解", "判决", "罚款", "反垄断"),
    "regulation": ("监管", "监管机构", "证监会", "批准", "审批", "调查", "合规", "牌照", "制裁"),
    "management": ("首席执行官", "总裁", "董事长", "辞职", "任命", "董事会", "高管", "接任"),
    "layoffs": ("裁员", "减员", "重组", "人员优化", "员工"),
    "products": ("发布", "推出", "新品", "产品", "召回", "车型", "平台"),
    "macro": ("通胀", "利率", "央行", "美联储", "国内生产总值", "经济衰退", "失业", "关税", "汇率"),
    "credit": ("降级", "评级", "违约", "债券", "债务", "再融资", "破产", "流动性"),
}
