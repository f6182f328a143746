"""With ``--link`` the contract tests here target real hardware: mark them ``hil``."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--link"):
        for item in items:
            if "tests/hil/" in str(item.fspath).replace("\\", "/"):
                item.add_marker(pytest.mark.hil)
