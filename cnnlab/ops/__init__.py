"""Operators with compiled kernels: the channel shift (see :mod:`cnnlab.ops.shift`)."""

from cnnlab.ops.shift import (
    Shift,
    ShiftBuildError,
    ShiftFallbackWarning,
    build_extension,
    displacements,
    one_hot_depthwise_weight,
    shift,
    shift_adjoint,
    shift_reference,
)

__all__ = [
    "Shift",
    "ShiftBuildError",
    "ShiftFallbackWarning",
    "build_extension",
    "displacements",
    "one_hot_depthwise_weight",
    "shift",
    "shift_adjoint",
    "shift_reference",
]
