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

# The Chinese descriptions of each topic for the multilingual embedder (topic_model.py): they
# say what the English ones say, and lift its F1 on the Chinese set (bench/RESULTS.md).
TOPIC_DESCRIPTIONS_ZH: dict[str, tuple[str, ...]] = {
    "earnings": (
        "公司公布季度财报：营收、净利润和每股收益。",
        "第三季度营业利润同比增长。",
        "净销售额下降，公司本期由盈转亏。",
        "季度业绩超出分析师预期。",
    ),
    "guidance": (
        "公司上调全年业绩展望和指引。",
        "公司下调全年预测，预计销售额将减少。",
        "管理层重申明年的财务目标。",
    ),
    "mna": (
        "公司同意收购一家竞争对手。",
        "两家公司宣布合并。",
        "集团将把旗下部门出售给买家，剥离该业务。",
        "一名投资者入股该公司并发出要约收购。",
    ),
    "litigation": (
        "公司在法院被起诉。",
        "针对公司的集体诉讼和法律纠纷。",
        "法院判决公司败诉，须支付和解金。",
        "反垄断机构对公司处以罚款。",
    ),
    "regulation": (
        "监管机构对公司展开调查。",
        "该药物获得监管部门批准。",
        "金融监管机构出台新规和合规要求。",
        "公司获得主管部门颁发的牌照。",
    ),
    "management": (
        "首席执行官辞职，公司任命新的首席执行官。",
        "董事会任命新任董事长。",
        "首席财务官将卸任。",
    ),
    "layoffs": (
        "公司将裁员，解雇员工。",
        "重组导致裁员，员工人数减少。",
        "工厂关闭，员工被解雇。",
    ),
    "products": (
        "公司推出一款新产品。",
        "新车型向客户亮相。",
        "公司因缺陷召回车辆。",
        "该服务在新平台上线。",
    ),
    "macro": (
        "通货膨胀和央行设定的利率。",
        "经济放缓，失业率上升。",
        "关税、汇率变动和债券收益率冲击市场。",
        "国内生产总值本季度增长。",
    ),
    "credit": (
        "评级机构下调公司的信用评级。",
        "公司为债务再融资并发行债券。",
        "公司贷款违约并申请破产。",
        "市场担忧公司的债务和流动性。",
    ),
}
