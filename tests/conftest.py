"""Shared fixtures and options. Plain `pytest` needs no hardware and no network."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_addoption(parser):
    parser.addoption("--link", default=None, help="run hil tests against a real board at this URL")
