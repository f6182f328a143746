"""The reference workloads have MLPerf Tiny's shapes: ResNet-8 ~12.5 M MACs, DS-CNN ~2.7 M,
VWW (MobileNetV1-0.25 at 96x96) ~7.5 M."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.tf]


def test_reference_workload_macs() -> None:
    pytest.importorskip("keras")
    from converters.card import keras_macs
    from vp_edge.workloads import ds_cnn, resnet8, vww

    r8, kws, ww = resnet8(), ds_cnn(), vww()
    assert r8.input_shape[1:] == (32, 32, 3) and r8.output_shape[-1] == 10
    assert kws.input_shape[1:] == (49, 10, 1) and kws.output_shape[-1] == 12
    assert 12.3e6 < keras_macs(r8) < 12.7e6
    assert 2.5e6 < keras_macs(kws) < 2.8e6
    assert ww.input_shape[1:] == (96, 96, 3) and ww.output_shape[-1] == 2
    assert 7.4e6 < keras_macs(ww) < 7.6e6  # the reference architecture's 7.49 M
