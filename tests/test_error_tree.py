"""Every exception groupbot raises on purpose joins the tree in bot/errors.py; each class name means one thing."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from bot.errors import GroupbotError

REPO = Path(__file__).resolve().parent.parent
#: WeCom's own errors, modelled inside the simulator's fake server (see the bot/errors.py docstring).
WECOM_MODELS = {"bot.simulator.api.WeComError", "bot.simulator.content.ContentError"}
#: `rules` imports nothing of ours, so its errors are plain ValueErrors; the handler that calls it
#: turns them into tree members (rules.model.MessageFieldError -> LineError in replay, BadPayload in the
#: inbox worker).
PURE = {"rules.model.MessageFieldError"}


def _exception_classes() -> list[tuple[str, type]]:
    found = []
    for package in ("bot", "handlers", "storage", "rules"):
        for path in sorted((REPO / package).rglob("*.py")):
            module_name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
            if ".migrations" in module_name or module_name.endswith("__main__"):
                continue
            classes = [n.name for n in ast.parse(path.read_text("utf-8")).body if isinstance(n, ast.ClassDef)]
            if not classes:
                continue
            module = importlib.import_module(module_name)
            for name in classes:
                cls = getattr(module, name)
                if isinstance(cls, type) and issubclass(cls, BaseException):
                    found.append((f"{module_name}.{name}", cls))
    return found


EXCEPTIONS = _exception_classes()
#: Private classes (`crypto._Refused` stops expat, `web.rules._Busy` ...) are control flow caught in
#: their own module; they never reach a caller.
PUBLIC = [(name, cls) for name, cls in EXCEPTIONS if not name.rsplit(".", 1)[1].startswith("_")]


@pytest.mark.parametrize(("name", "cls"), PUBLIC, ids=[name for name, _ in PUBLIC])
def test_every_exception_of_ours_joins_the_groupbot_error_tree(name, cls):
    if name in WECOM_MODELS or name in PURE:
        assert not issubclass(cls, GroupbotError)
        assert name not in PURE or issubclass(cls, ValueError)
    else:
        assert issubclass(cls, GroupbotError), f"{name} should derive from a bot.errors class"


def test_no_two_classes_of_ours_share_a_name():
    """One meaning per name: no `Outcome` in two modules, no rule value and table both called `Violation`."""
    where: dict[str, list[str]] = {}
    for package in ("bot", "handlers", "storage", "rules"):
        for path in (REPO / package).rglob("*.py"):
            if "migrations" not in path.parts:
                for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                    if isinstance(node, ast.ClassDef):
                        where.setdefault(node.name, []).append(str(path.relative_to(REPO)))

    assert {name: paths for name, paths in where.items() if len(paths) > 1} == {}


def test_every_table_class_ends_in_row():
    from storage.models import Base

    assert [m.class_.__name__ for m in Base.registry.mappers if not m.class_.__name__.endswith("Row")] == []


def test_the_tree_is_found_at_all():
    assert {"bot.errors.ConfigError", "handlers.exports.ExportError", "storage.sealing.SealError"} <= {
        name for name, _ in EXCEPTIONS
    }
