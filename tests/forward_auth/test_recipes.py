"""The recipes in docs/forward-auth.md are the files the end-to-end tests run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.forward_auth.conftest import FILES, RECIPES

DOC = Path(__file__).resolve().parents[2] / "docs" / "forward-auth.md"


@pytest.mark.parametrize("name", sorted(RECIPES.values()))
def test_recipe_in_the_docs_is_the_tested_file(name: str) -> None:
    assert (FILES / name).read_text() in DOC.read_text()
