"""The simulated corp's contacts: the members `user/get` knows, with Chinese names and departments.

The userids match config.yaml (zhangwei, lisi, wangfang, zhaolei) plus the reps the demo traffic uses.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Member:
    userid: str
    name: str
    department: int
    position: str


#: Department ids as WeCom numbers them (1 is the root; the others hang under it).
DEPARTMENTS: dict[int, str] = {
    1: "星辰科技",
    2: "销售管理部",
    3: "华东销售部",
    4: "华南销售部",
}

DEMO_MEMBERS: tuple[Member, ...] = (
    Member("wangfang", "王芳", 2, "销售总监"),
    Member("lisi", "李四", 3, "华东区经理"),
    Member("zhangwei", "张伟", 3, "销售代表"),
    Member("liuyang", "刘洋", 3, "销售代表"),
    Member("chenjing", "陈静", 3, "销售代表"),
    Member("zhaolei", "赵磊", 4, "华南区经理"),
    Member("sunli", "孙丽", 4, "销售代表"),
    Member("zhoujie", "周杰", 4, "销售代表"),
    Member("wuhao", "吴昊", 4, "销售代表"),
)

#: Which reps post in which demo group (chat ids from config.yaml).
GROUP_MEMBERS: dict[str, tuple[str, ...]] = {
    "wr-sales-east": ("lisi", "zhangwei", "liuyang", "chenjing", "wangfang"),
    "wr-sales-south": ("zhaolei", "sunli", "zhoujie", "wuhao", "wangfang"),
}


def user_get_payload(member: Member) -> dict:
    """The body `GET /user/get` answers for a member (the fields groupbot reads, as WeCom names them)."""
    return {
        "errcode": 0,
        "errmsg": "ok",
        "userid": member.userid,
        "name": member.name,
        "department": [member.department],
        "main_department": member.department,
        "position": member.position,
        "status": 1,
    }


def department_rows(root: int | None = None) -> list[dict]:
    """`department/list`: the department `root` and those under it (all when None), as WeCom lists them."""
    rows = [
        {"id": dept_id, "name": name, "parentid": 0 if dept_id == 1 else 1, "order": 100000000 - dept_id}
        for dept_id, name in DEPARTMENTS.items()
    ]
    if root is None or root == 1:
        return rows
    return [row for row in rows if row["id"] == root]
