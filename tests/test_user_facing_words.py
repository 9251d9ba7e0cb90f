"""No developer language in what a nurse reads (issue 14): the strings of the GUI, the services'
messages and the printouts never say "the seed", cite rule numbers ("rules §5") or name
internal settings keys ("clinic.phone"). Docstrings and comments may; they are for developers.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("clinic_app/gui", "clinic_app/services", "clinic_app/reports", "ui")
# The words a nurse must never read, and why.
FORBIDDEN = {
    r"\bthe seed\b|\bseed's\b": "the protocol source file's internal name",
    r"\brules §|§\s?\d": "a developer's rule number",
    r"\bclinic\.(phone|name)\b": "an internal settings key",
    r"\bvalue_si\b|\bpatient_id\s*=": "an internal column name",
}

# The words the protocols page replaces (it turns the file's word into plain words).
EXEMPT = {
    ("clinic_app/gui/protocol_view.py", text)
    for text in ("the seed's", "The seed's", "the seed", "The seed")
}


def user_strings(path: Path) -> list[tuple[int, str]]:
    """String constants of a module that are not docstrings (f-string parts included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            docstrings.add(id(node.value))  # attribute docstrings
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            found.append((node.lineno, node.value))
    return found


def ui_strings(path: Path) -> list[tuple[int, str]]:
    text = path.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, m.start()) + 1, m.group(1))
        for m in re.finditer(r"<string>(.*?)</string>", text, re.S)
    ]


def files() -> list[Path]:
    out: list[Path] = []
    for folder in FOLDERS:
        out += sorted((ROOT / folder).rglob("*.py")) + sorted((ROOT / folder).rglob("*.ui"))
    return out


@pytest.mark.parametrize("path", files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_developer_language_in_user_facing_strings(path: Path) -> None:
    strings = ui_strings(path) if path.suffix == ".ui" else user_strings(path)
    problems = [
        f"{path.relative_to(ROOT)}:{line}: {why}: {text[:90]!r}"
        for line, text in strings
        for pattern, why in FORBIDDEN.items()
        # A string without a space is a key or a name the code uses, not a sentence.
        if re.search(r"\s", text.strip())
        and (str(path.relative_to(ROOT)), text) not in EXEMPT
        and re.search(pattern, text)
    ]
    assert not problems, "\n".join(problems)


def test_the_check_finds_a_rule_number_in_a_message(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('"""Docs may cite rules §5."""\nMESSAGE = "Refused (rules §5)."\n')
    assert [text for _, text in user_strings(module)] == ["Refused (rules §5)."]
