"""Identifiers written to slip past a filter (issue 12 item 4): dots, parentheses, 0086, full-width
digits, one digit at a time, Chinese digit characters. Each is masked over the whole written span;
dates, amounts, order numbers, landlines and 「三五个客户」 stay exactly as written."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rules.config import SensitiveSettings
from rules.masking import apply_masks
from rules.sensitive import SensitiveRule
from tests.helpers.strategies import cn_mobiles

RULE = SensitiveRule(SensitiveSettings())


def masked(text: str) -> tuple[str, list[str]]:
    findings = RULE.scan(text)
    return apply_masks(text, findings), [f.kind for f in findings]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Grouped by dots, first three in parentheses, 0086.
        ("王总手机138.1234.5678，下午回电", "王总手机138****5678，下午回电"),
        ("他新号138.12345678", "他新号138****5678"),
        ("客户电话(138)12345678", "客户电话138****5678"),
        ("客户电话（138）1234-5678 晚上别打", "客户电话138****5678 晚上别打"),
        ("客户电话(139) 1234 5678", "客户电话139****5678"),
        ("香港同事转的 0086 138 1234 5678", "香港同事转的 138****5678"),
        ("0086-186-1234-5678 是李总的", "186****5678 是李总的"),
        ("号码008613812345678", "号码138****5678"),
        ("号码0086.138.1234.5678", "号码138****5678"),
        # Full-width digits and dots.
        ("王总手机１３８．１２３４．５６７８", "王总手机138****5678"),
        ("客户手机138１２３４５６７８", "客户手机138****5678"),
        # Every digit separated by one space or symbol.
        ("王总手机 1 3 8 0 0 1 3 8 0 0 0 别外传", "王总手机 138****8000 别外传"),
        ("加他 1-3-8-0-0-1-3-8-0-0-0", "加他 138****8000"),
        ("手机1.3.8.0.0.1.3.8.0.0.0", "手机138****8000"),
        ("电话：1，3，8，0，0，1，3，8，0，0，0。", "电话：138****8000。"),
        ("电话1/3/8/0/0/1/3/8/0/0/0", "电话138****8000"),
        ("电话１ ３ ８ ０ ０ １ ３ ８ ０ ０ ０", "电话138****8000"),
        # Chinese digit characters, 〇/零 for 0, 幺 for 1, mixed with Arabic digits.
        ("他手机一三八零零一三八零零零，你私下加", "他手机138****8000，你私下加"),
        ("号码幺三八〇〇幺三八〇〇〇", "号码138****8000"),
        ("一 三 八 零 零 一 三 八 零 零 零", "138****8000"),
        ("手机138零零138零零零", "手机138****8000"),
        ("手机一三八 一二三四 五六七八", "手机138****5678"),
        # IDs and cards written the same ways.
        ("身份证 1 1 0 1 0 5 1 9 4 9 1 2 3 1 0 0 2 X", "身份证 110105********002X"),
        ("身份证一一零一零五一九四九一二三一零零二X", "身份证110105********002X"),
        ("身份证１１０１０５１９４９１２３１００２Ｘ", "身份证110105********002X"),
        ("卡号 6-2-2-2-0-2-1-2-3-4-5-6-7-8-9-0-1-2-8", "卡号 ****0128"),
        ("卡号六二二二零二一二三四五六七八九零一二八", "卡号****0128"),
        ("卡号６２２２ ０２１２ ３４５６ ７８９０ １２８", "卡号****0128"),
        # A Chinese character after a clear mobile does not hide it.
        ("电话13812345678一定保密", "电话138****5678一定保密"),
    ],
)
def test_evasive_identifiers_are_masked_over_the_written_span(text: str, expected: str) -> None:
    out, kinds = masked(text)
    assert out == expected
    assert len(kinds) == 1


@pytest.mark.parametrize(
    "text",
    [
        "今天拜访了三五个客户，一二三四都约了",
        "二〇二六年三月一日签约，2026.03.01 上午拜访",
        "合同金额一百二十八万元，首付三成",
        "报价 13812345.678 元",  # a decimal is no dot-grouped mobile
        "座机(010)12345678，找前台",
        "深圳座机（0755）8888 6666",
        "订单号：1 3 8 0 0 1 3 8 0 0 0",
        "快递单号 一三八零零一三八零零零",
        "订单号2026.0301.1234已发",
        "上班时间 9:00-11:00, 14:00-17:00",
        "打分 5 4 5 5 3 4 5 5 4 5 5，满意",
        "一二三四五六七八九十，大家报数",
        "服务器 192.168.100.200 已上线",
        "版本 v1.3.8 发布",
        "十二万五千，两三个月回款",
        "1 2 3 4 5 6 7 8 9 0 1 2 3",
    ],
)
def test_look_alikes_stay_as_written(text: str) -> None:
    assert masked(text) == (text, [])


# --- properties -----------------------------------------------------------------------------

CN_FOR = dict(zip("0123456789", ["零〇", "一幺", "二", "三", "四", "五", "六", "七", "八", "九"], strict=True))
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
# Chat around the number: Chinese words and punctuation, no digit of any kind, no labels.
FILLER = st.text(alphabet="王总客户明天下午约了见面谈合作方案已发资料请跟进谢谢的是在有他加私下 ，。！", max_size=20)
BREAK = st.sampled_from(["，", "。", "：", "\n", "、", "；", "手机", "电话"])


@st.composite
def evasive_mobiles(draw: st.DrawFn) -> tuple[str, str, str]:
    number = draw(cn_mobiles())
    style = draw(st.sampled_from(["spaced", "chinese", "chinese_spaced", "full_width", "dots", "parens", "0086"]))
    if style == "spaced":
        written = draw(st.sampled_from([" ", "-", ".", "/", "，", "*", "_"])).join(number)
    elif style in ("chinese", "chinese_spaced"):
        chars = [draw(st.sampled_from(CN_FOR[d])) for d in number]
        written = ("" if style == "chinese" else " ").join(chars)
    elif style == "full_width":
        written = number.translate(FULL_WIDTH)
    elif style == "dots":
        written = f"{number[:3]}.{number[3:7]}.{number[7:]}"
    elif style == "parens":
        written = draw(st.sampled_from(["({}){}", "（{}）{}", "({}) {}"])).format(number[:3], number[3:])
    else:
        written = draw(st.sampled_from(["0086{}", "0086 {}", "0086-{}"])).format(number)
    return written, f"{number[:3]}****{number[-4:]}", number


@settings(max_examples=400, deadline=None)
@given(before=FILLER, left=BREAK, value=evasive_mobiles(), right=BREAK, after=FILLER)
def test_evasive_mobile_is_masked_and_nothing_else_changes(
    before: str, left: str, value: tuple[str, str, str], right: str, after: str
) -> None:
    written, mask, clear = value
    text = before + left + written + right + after
    out, kinds = masked(text)
    assert out == before + left + mask + right + after
    assert kinds == ["mobile"]
    assert clear not in out and written not in out
    assert masked(out)[1] == []  # nothing left to find in the masked text


# Chinese numerals as reps write them in ordinary sentences: counts, dates, amounts, rankings.
NUMERAL_TALK = st.lists(
    st.one_of(
        st.text(alphabet="零〇一二两三四五六七八九十百千万幺", min_size=1, max_size=4),
        st.text(alphabet="个位家客户年月日号点万元台第次，。、 ", min_size=1, max_size=3),
        st.text(alphabet="0123456789", min_size=1, max_size=4),
    ),
    max_size=12,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(NUMERAL_TALK)
def test_fewer_than_eleven_digits_of_any_script_are_never_an_identifier(text: str) -> None:
    digit_like = sum(ch in "0123456789零〇一二两三四五六七八九幺" for ch in text)
    assume(digit_like < 11)
    assert masked(text) == (text, [])
