"""Notebook 06's fire exercise stands in for the library's module: same constructor arguments."""

import inspect

from cnnlab.exercises import nb06
from cnnlab.grading import get
from cnnlab.layers import FireModule


def test_fire_exercise_falls_back_on_the_fire_module_with_its_signature():
    exercise = get("06.Fire")
    assert exercise.library_fallback is FireModule
    asked = ["in_channels", "squeeze_channels", "expand1x1_channels", "expand3x3_channels"]
    parameters = list(inspect.signature(FireModule).parameters.values())
    assert [p.name for p in parameters[:4]] == asked
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty for p in parameters[:4])
    assert all(p.kind is p.KEYWORD_ONLY for p in parameters[4:])


def test_stored_calls_are_not_hidden_cases():
    for exercise in nb06.EXERCISES:
        hidden = {repr(c.args) for c in exercise.hidden}
        assert not any(repr(c.args) in hidden for c in exercise.use_cases()), exercise.id


def test_pool_position_counts_what_the_modules_write():
    import torch
    from torch import nn

    fires = [(16, 64, 64), (16, 64, 64), (32, 128, 128)]
    for position in range(len(fires) + 1):
        layers, c_in = [], 96
        for i, fire in enumerate(fires):
            layers += [nn.MaxPool2d(2, 2)] if i == position else []
            layers.append(FireModule(c_in, *fire))
            c_in = fire[1] + fire[2]
        layers += [nn.MaxPool2d(2, 2)] if position == len(fires) else []
        x, written = torch.zeros(1, 96, 9, 9, device="meta"), 0
        for layer in nn.Sequential(*layers).to("meta"):
            x = layer(x)
            written += x.numel()
        assert written == nb06.pooled_activations(96, [128, 128, 256], 9, position)
