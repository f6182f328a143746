"""The suite's Hypothesis profile: property tests do not depend on the machine being idle."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings


@pytest.mark.skipif(os.environ.get("HYPOTHESIS_PROFILE", "ci") != "ci", reason="other profile")
def test_ci_profile_has_no_deadline_no_speed_check_and_fixed_seeds() -> None:
    s = settings.default
    assert s.deadline is None and s.derandomize
    assert HealthCheck.too_slow in s.suppress_health_check
