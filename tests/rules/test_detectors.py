"""The sensitive rule's detectors, one table per kind: messages as reps write them, the text as it
is stored (masked) and the kinds found, in order. Every detector is asked the same two questions
(is it masked? is its look-alike left exactly as written?), so one test asks each of them over all
the tables. Evasive spellings live in test_detectors_evasion.py.

- mobile: with or without +86, spaces or dashes; landlines, hotlines, order numbers, amounts and
  already-masked numbers are not mobiles.
- id_card: 18 characters, a real birth date and the GB 11643 check digit; an ID that also passes
  Luhn is an ID, not a bank card.
- bank_card: 16-19 digits passing Luhn, whole or grouped; a failing Luhn sum, an order number or
  an irregular run of digits is not a card.
- email: any address, masked to first character + *** + @domain.
- im_account: WeChat and QQ accounts, found when the message names them (微信/微信号/wx/WeChat/QQ/qq号).
- financial: the customer's debts, loans, arrears, savings, income, credit record or cash flow is
  flagged (never masked); budgets, prices, contract amounts, our own receivables and the banking
  products we sell are not.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rules.config import SensitiveSettings
from rules.detectors import bank_card, email, id_card, mobile
from rules.masking import apply_masks
from rules.sensitive import SensitiveRule

RULE = SensitiveRule(SensitiveSettings())

# (message, as stored, kinds found)
MOBILES = [
    ("王总电话13812345678，明天上午回访", "王总电话138****5678，明天上午回访", ["mobile"]),
    ("客户手机：138 1234 5678", "客户手机：138****5678", ["mobile"]),
    ("联系人李经理 138-1234-5678 下午有空", "联系人李经理 138****5678 下午有空", ["mobile"]),
    ("对方留的是+86 139 0000 1234", "对方留的是139****1234", ["mobile"]),
    ("+8615912345678 王总的私人号", "159****5678 王总的私人号", ["mobile"]),
    ("海外同事转来的：0086 186 1234 5678", "海外同事转来的：186****5678", ["mobile"]),
    ("+86-177-1234-5678", "177****5678", ["mobile"]),
    ("电话13812345678 2份资料已寄", "电话138****5678 2份资料已寄", ["mobile"]),
    (
        "张总13812345678、李总19912345678都约了周四",
        "张总138****5678、李总199****5678都约了周四",
        ["mobile", "mobile"],
    ),
    ("王总电话１３８１２３４５６７８，全角也要打码", "王总电话138****5678，全角也要打码", ["mobile"]),
    ("微信：13812345678（手机同号）", "微信：138****5678（手机同号）", ["mobile"]),
    ("新号码16612345678", "新号码166****5678", ["mobile"]),
    ("资料寄快递 13812345678 王总收", "资料寄快递 138****5678 王总收", ["mobile"]),
    ("his phone no. 13812345678", "his phone no. 138****5678", ["mobile"]),
    ("(+86)13812345678", "(+86)138****5678", ["mobile"]),
    ("86-13812345678", "138****5678", ["mobile"]),
]
ID_CARDS = [
    ("客户身份证号11010519491231002X，办合同用", "客户身份证号110105********002X，办合同用", ["id_card"]),
    ("身份证：440306199003071232", "身份证：440306********1232", ["id_card"]),
    ("法人身份证 110105 19491231 002X 复印件已收", "法人身份证 110105********002X 复印件已收", ["id_card"]),
    ("身份证11010519491231002x小写也算", "身份证110105********002x小写也算", ["id_card"]),
    ("身份证 1101 0519 4912 3100 2X", "身份证 110105********002X", ["id_card"]),
    ("闰年生日的11010520000229003X也是有效的", "闰年生日的110105********003X也是有效的", ["id_card"]),
    ("这个号440306199003070256同时能过Luhn", "这个号440306********0256同时能过Luhn", ["id_card"]),
    (
        "王总身份证310115198502150041，手机13812345678",
        "王总身份证310115********0041，手机138****5678",
        ["id_card", "mobile"],
    ),
]
BANK_CARDS = [
    ("客户退款账户6222021234567890128，开户行招商", "客户退款账户****0128，开户行招商", ["bank_card"]),
    ("卡号 6222 0212 3456 7890 128 户名王伟", "卡号 ****0128 户名王伟", ["bank_card"]),
    ("打款到6217-0000-1234-5670就行", "打款到****5670就行", ["bank_card"]),
    ("信用卡4367421234567896别发群里", "信用卡****7896别发群里", ["bank_card"]),
    ("18位卡号622848001234567894", "18位卡号****7894", ["bank_card"]),
    (
        "卡号6258076543210989，预留手机13812345678",
        "卡号****0989，预留手机138****5678",
        ["bank_card", "mobile"],
    ),
    # 19 digits across a date and a phone pass Luhn, but no card is grouped 4-2-2-11.
    ("2026-03-01 13812345674 的来电", "2026-03-01 138****5674 的来电", ["mobile"]),
]
EMAILS = [
    ("方案发我邮箱wang.li@huaxing-tech.com，谢谢", "方案发我邮箱w***@huaxing-tech.com，谢谢", ["email"]),
    ("客户邮箱：ZhangWei_88@163.com", "客户邮箱：Z***@163.com", ["email"]),
    ("报价单抄送 13812345678@qq.com", "报价单抄送 1***@qq.com", ["email"]),
    (
        "采购 li@abc.com.cn 和财务 fin+ap@abc.com.cn",
        "采购 l***@abc.com.cn 和财务 f***@abc.com.cn",
        ["email", "email"],
    ),
    ("Email:sales-east@xinghe.cn。", "Email:s***@xinghe.cn。", ["email"]),
]
IM_ACCOUNTS = [
    ("客户微信：abc_123，晚上加一下", "客户微信：ab****，晚上加一下", ["im_account"]),
    ("微信号: zhangwei1988", "微信号: zh****", ["im_account"]),
    ("wx zhang_88 备注华星科技", "wx zh**** 备注华星科技", ["im_account"]),
    ("WeChat: Lily-2026", "WeChat: Li****", ["im_account"]),
    ("王总QQ：10086123", "王总QQ：10****", ["im_account"]),
    ("qq号 384756291 是他私人的", "qq号 38**** 是他私人的", ["im_account"]),
    ("加他微信wxid_k2j3h4聊方案", "加他微信wx****聊方案", ["im_account"]),
    ("王总微信号是wangzong_88，备注公司名", "王总微信号是wa****，备注公司名", ["im_account"]),
    ("vx：Lucy_0901", "vx：Lu****", ["im_account"]),
    ("【跟进】客户：王总；微信：abc_123；需求：CRM", "【跟进】客户：王总；微信：ab****；需求：CRM", ["im_account"]),
    # A mobile used as the WeChat id is a mobile first.
    ("微信：13812345678", "微信：138****5678", ["mobile"]),
    # The address is an e-mail, not the QQ number inside it.
    ("QQ：10086123@qq.com", "QQ：1***@qq.com", ["email"]),
]


@pytest.mark.parametrize(("text", "masked", "kinds"), MOBILES + ID_CARDS + BANK_CARDS + EMAILS + IM_ACCOUNTS)
def test_identifiers_are_masked(text: str, masked: str, kinds: list[str]) -> None:
    findings = RULE.scan(text)
    assert (apply_masks(text, findings), [f.kind for f in findings]) == (masked, kinds)


# Messages that look like an identifier or a financial statement but are neither.
NOT_MOBILES = [
    "座机021-12345678，下午打",
    "深圳办公室0755-8888 8888，找前台转",
    "客服热线4008-123-456，有问题随时打",
    "400-820-8820 是他们总部热线",
    "订单号20260301123456已发货",
    "快递单号 13812345678 明天到",
    "工单号：13812345678，已派单",
    "王总电话138****5678，已加微信",
    "合同金额13800000元，下周签",
    "报价1,380,000元含税",
    "2026-03-01 去拜访，2026-03-05 回访",
    "12345678901 这个号是空号",
    "14012345678 是物联网卡号段",
    "移动客服10086说号码已停机",
    "设备序列号SN13812345678待核对",
    "",
]
NOT_ID_CARDS = [
    "身份证号110105194912310021，末位校验不对",
    "身份证号110105194902300020，2月30日不存在",
    "身份证号110105189901010033，1899年的不算",
    "身份证号11010519491231002，少了一位",
    "身份证号110105********002X，已打码",
    "编号2026030112345678，不是证件号",
]
NOT_BANK_CARDS = [
    "卡号6222021234567890127，好像抄错了一位",
    "订单号2026030112345676已付款",
    "订单号：202603011234567899 请财务核对",
    "卡号****0128的那张",
    "合同编号 622202123456789 备案",
    "62220212345678901285 这串有20位",
]
NOT_EMAILS = [
    "@王总 明天上午十点见",
    "@所有人 周五前交周报",
    "邮箱待补充，客户说晚点发",
    "他邮箱是 wang.li@ 后面没写完",
    "邮箱w***@huaxing-tech.com已打码",
]
NOT_IM_ACCOUNTS = [
    "已加微信，明天聊",
    "微信 meeting 改到周四",
    "拉了个微信群 sales2026 方便对接",
    "QQ群已建好",
    "微信：ab",
    "王总微信同号，直接搜手机号",
    "客户微信：ab****，已打码",
    "zhangwei1988 这个账号没说是什么",
    "Twx: abcdef123 不是微信",
]
# Budgets, prices, contract amounts, our own money and the banking products we sell.
NOT_FINANCIAL = [
    "客户预算50万，下周报价",
    "报价单已发，价格18.8万",
    "合同金额50万，首付30%",
    "尾款还欠我们5万没付",
    "合同尾款客户还拖欠着",
    "客户拖欠我们的货款三个月了",
    "我们的回款进度要跟紧",
    "我们的贷款批下来了，下月扩招",
    "客户想做贷款系统升级",
    "他们在选资产管理系统",
    "征信系统改造，预算200万",
    "项目逾期两周了，客户有点急",
    "银行客户的存款业务线要上新平台",
    "客户资产管理部门约了周四演示",
    "客户回款逾期了，催一下财务",
    "客户年营收5000万，规模不错",
    "尾款的事客户说手头紧",
]


@pytest.mark.parametrize(
    "text", NOT_MOBILES + NOT_ID_CARDS + NOT_BANK_CARDS + NOT_EMAILS + NOT_IM_ACCOUNTS + NOT_FINANCIAL
)
def test_look_alikes_are_left_as_written(text: str) -> None:
    findings = RULE.scan(text)
    assert (apply_masks(text, findings), findings) == (text, ())


# Financial statements are flagged with the phrase found, and never masked.
@pytest.mark.parametrize(
    ("text", "phrases"),
    [
        ("华星科技最近资金链断裂，付款可能要拖", ["资金链"]),
        ("王总说他们公司负债三百多万", ["负债"]),
        ("客户征信有问题，贷款没批下来", ["征信", "贷款"]),
        ("李总是失信被执行人，谨慎跟进", ["失信", "被执行人"]),
        ("这个客户月收入两万左右，意向挺强", ["月收入"]),
        ("客户欠款200万还没还上", ["欠款"]),
        ("听说他家存款不少，可以推高配版", ["存款"]),
        ("客户的信用卡逾期了好几期", ["信用卡逾期"]),
        ("他们去年亏损严重，今年砍预算", ["亏损"]),
        ("报价发了，但客户说最近周转不开", ["周转不开"]),
        # The budget cue is in another clause, so the weak 拖欠 still counts.
        ("预算没问题，就是他们拖欠供应商货", ["拖欠"]),
        ("客户要贷款付合同金额", ["贷款"]),
        ("客户说手头紧，下个月再付", ["手头紧"]),
        ("他们老板欠了一屁股债，小心点", ["欠了"]),
        ("看了客户的银行流水，不太乐观", ["银行流水"]),
        ("客户房贷压力大，想分期", ["房贷"]),
        ("王总公司被列为失信被执行人了", ["失信", "被执行人"]),
    ],
)
def test_financial_statements_are_flagged(text: str, phrases: list[str]) -> None:
    findings = RULE.scan(text)
    assert [(f.kind, text[f.start : f.end], f.mask) for f in findings] == [("financial", p, None) for p in phrases]


@pytest.mark.parametrize(
    ("settings", "text", "phrases"),
    [
        (SensitiveSettings(financial_keywords=("欠银行",)), "听说他们欠银行不少", ["欠银行"]),
        (SensitiveSettings(financial_exclusions=("负债率看板",)), "客户要做负债率看板", []),
        (SensitiveSettings(financial_exclusions=("负债率看板",)), "客户负债率很高", ["负债"]),
        (SensitiveSettings(), "客户要做负债率看板", ["负债"]),
    ],
)
def test_financial_keywords_and_exclusions_come_from_config(
    settings: SensitiveSettings, text: str, phrases: list[str]
) -> None:
    findings = SensitiveRule(settings).scan(text)
    assert [text[f.start : f.end] for f in findings] == phrases


# --- each detector's own checks -------------------------------------------------------------


@pytest.mark.parametrize(
    ("is_valid", "value", "valid"),
    [
        (id_card.is_resident_id, "11010519491231002X", True),
        (id_card.is_resident_id, "11010519491231002x", True),
        (id_card.is_resident_id, "440306199003071232", True),
        (id_card.is_resident_id, "110105194912310021", False),
        (id_card.is_resident_id, "110105194902300020", False),
        (id_card.is_resident_id, "110105189901010033", False),
        (id_card.is_resident_id, "11010519491231002", False),
        (id_card.is_resident_id, "1101051949123100２X", False),
        (id_card.is_resident_id, "11010519491231002Y", False),
        (bank_card.is_bank_card, "6222021234567890128", True),
        (bank_card.is_bank_card, "6222021234567890127", False),
        (bank_card.is_bank_card, "4367421234567896", True),
        (bank_card.is_bank_card, "436742123456789", False),
        (bank_card.is_bank_card, "62220212345678901285", False),
        # Valid as a card too, but scan() reports it as the resident ID it is.
        (bank_card.is_bank_card, "440306199003070256", True),
    ],
)
def test_validity_checks(is_valid: Callable[[str], bool], value: str, valid: bool) -> None:
    assert is_valid(value) is valid


@pytest.mark.parametrize(
    ("group_lengths", "card_like"),
    [
        ([19], True),
        ([4, 4, 4, 4], True),
        ([4, 4, 4, 4, 3], True),
        ([6, 13], False),
        ([4, 2, 2, 11], False),
        ([4, 4, 4, 5], False),
    ],
)
def test_is_card_grouping(group_lengths: list[int], card_like: bool) -> None:
    assert bank_card.is_card_grouping(group_lengths) is card_like


@pytest.mark.parametrize(
    ("digits", "national"),
    [
        ("13812345678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("008613812345678", "13812345678"),
        ("02112345678", None),
        ("12345678901", None),
        ("1381234567", None),
        ("138123456789", None),
    ],
)
def test_national_mobile(digits: str, national: str | None) -> None:
    assert mobile.national_mobile(digits) == national


@pytest.mark.parametrize(
    ("mask", "value", "masked"),
    [
        (mobile.mask, "13812345678", "138****5678"),
        (mobile.mask, "+86 138 1234 5678", "138****5678"),
        (mobile.mask, "5123 4567", "****4567"),
        (mobile.mask, "12345", "****"),
        (email.mask, "wang.li@huaxing-tech.com", "w***@huaxing-tech.com"),
        (email.mask, "a@b.cn", "a***@b.cn"),
        (email.mask, "nodomain", "n***"),
    ],
)
def test_masks(mask: Callable[[str], str], value: str, masked: str) -> None:
    assert mask(value) == masked
