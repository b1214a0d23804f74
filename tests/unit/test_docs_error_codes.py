"""The error code table of the docs is generated from ErrorCode and HTTP_STATUS."""

from __future__ import annotations

import importlib.util
import re
import types
from pathlib import Path

import pytest

from reservation_core import HTTP_STATUS, BusinessException, ErrorCode

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="module")
def hook() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("error_codes_hook", DOCS / "hooks/error_codes.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_table_has_one_row_per_code_with_its_status(hook: types.ModuleType) -> None:
    rows = re.findall(
        r'^\| <span id="(\w+)"></span>`(\w+)` \| (\d{3}) ', hook.error_code_table(), re.M
    )
    assert [(anchor, code) for anchor, code, _ in rows] == [(str(c), str(c)) for c in ErrorCode]
    assert {code: int(status) for _, code, status in rows} == {
        str(code): status for code, status in HTTP_STATUS.items()
    }


def test_table_shows_each_default_message(hook: types.ModuleType) -> None:
    table = hook.error_code_table()
    for code in ErrorCode:
        assert f"| {BusinessException(code).message} |" in table


def test_every_code_is_described(hook: types.ModuleType) -> None:
    assert set(hook.DESCRIPTIONS) == {str(code) for code in ErrorCode}


def test_a_code_without_description_fails_the_build(
    hook: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(hook.DESCRIPTIONS, "ALREADY_REFUNDED")
    with pytest.raises(ValueError, match="ALREADY_REFUNDED"):
        hook.error_code_table()


def test_hook_fills_the_errors_page(hook: types.ModuleType) -> None:
    page = types.SimpleNamespace(file=types.SimpleNamespace(src_uri="errors.md"))
    source = (DOCS / "errors.md").read_text()
    assert source.count(hook.MARKER) == 1
    rendered = hook.on_page_markdown(source, page)
    assert hook.MARKER not in rendered
    assert hook.error_code_table() in rendered
    other = types.SimpleNamespace(file=types.SimpleNamespace(src_uri="index.md"))
    assert hook.on_page_markdown(hook.MARKER, other) == hook.MARKER
