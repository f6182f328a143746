"""``vp-edge devices`` at the library level: which deployment files it reads, and that each is
checked as 'emulate' would check it."""

from __future__ import annotations

from pathlib import Path

import pytest

from vp_edge.devices import list_devices
from vp_edge.errors import DeploymentError


def test_folder_without_deployments_lists_ports_only(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.x]\na = 1\n")  # no [[boards]]: skipped
    doc = list_devices(None, folder=tmp_path)
    assert doc["boards"] == [] and isinstance(doc["serial_ports"], list)


def test_deployment_files_of_the_folder_are_checked(tmp_path: Path) -> None:
    (tmp_path / "dep.toml").write_text('run = "nowhere"\n\n[[boards]]\nid = "x"\n')
    with pytest.raises(DeploymentError, match="dep.toml"):
        list_devices(None, folder=tmp_path)
    with pytest.raises(DeploymentError, match="dep.toml"):
        list_devices([tmp_path / "dep.toml"], folder=tmp_path / "elsewhere")
