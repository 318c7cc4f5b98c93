"""cnnlab.receptive_field: the formula agrees with where gradients actually reach."""

import pytest
import torch
from torch import nn

from cnnlab import models
from cnnlab.receptive_field import (
    effective_receptive_field,
    effective_size,
    layer_geometry,
    receptive_field,
)


def gradient_support(model: nn.Module, side: int) -> int:
    """Side of the bounding box of input pixels with a nonzero gradient at the central output."""
    erf = effective_receptive_field(model, (1, side, side), samples=2)
    rows, cols = torch.nonzero(erf > 0, as_tuple=True)
    height = int(rows.max() - rows.min() + 1)
    width = int(cols.max() - cols.min() + 1)
    assert height == width
    return height


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_stacked_3x3_convolutions_see_2n_plus_1_pixels(depth):
    stack = nn.Sequential(*[nn.Conv2d(1, 1, 3) for _ in range(depth)])
    assert receptive_field(layer_geometry(stack)) == 2 * depth + 1
    assert gradient_support(stack, 4 * depth + 5) == 2 * depth + 1


@pytest.mark.parametrize("layers", [
    [nn.Conv2d(1, 2, 5), nn.AvgPool2d(2), nn.Conv2d(2, 2, 5)],
    [nn.Conv2d(1, 2, 3, stride=2), nn.Conv2d(2, 2, 3, dilation=2), nn.AvgPool2d(3, 2),
     nn.Conv2d(2, 1, 3)],
    [nn.Conv2d(1, 2, 7, stride=3), nn.Conv2d(2, 2, (3, 3), stride=(2, 2))],
])
def test_formula_matches_the_gradient_support_of_linear_chains(layers):
    # No activations and average pooling: every input pixel in the field reaches the output.
    torch.manual_seed(0)
    chain = nn.Sequential(*layers)
    expected = receptive_field(layer_geometry(chain))
    assert gradient_support(chain, expected + 40) == expected


def test_geometry_of_a_chain_and_vgg16():
    chain = nn.Sequential(nn.Conv2d(3, 4, 5, stride=2), nn.ReLU(), nn.MaxPool2d(3),
                          nn.Conv2d(4, 4, 3, dilation=2))
    assert layer_geometry(chain) == [(5, 2, 1), (3, 3, 1), (3, 1, 2)]
    with torch.device("meta"):
        vgg = models.create("vgg16")
    geometry = layer_geometry(vgg.features)
    assert geometry.count((3, 1, 1)) == 13 and geometry.count((2, 2, 1)) == 5
    # The last 3x3 convolution sits behind four pools (jump 16); the last pool adds 16 more.
    assert receptive_field(geometry[:-1]) == 196
    assert receptive_field(geometry) == 212


def test_receptive_field_edge_cases_and_bad_input():
    assert receptive_field([]) == 1
    assert receptive_field([(3, 1, 2)]) == 5  # a dilated 3x3 spans 5 pixels
    with pytest.raises(TypeError, match="layers"):
        receptive_field("3x3")
    with pytest.raises(ValueError, match=r"layers\[1\]"):
        receptive_field([(3, 1), (0, 1)])
    with pytest.raises(ValueError, match=r"layers\[0\]"):
        receptive_field([(3,)])
    with pytest.raises(ValueError, match="square"):
        layer_geometry(nn.Conv2d(1, 1, (3, 5)))


def test_effective_field_is_centred_peaked_and_smaller_than_the_theoretical_one():
    torch.manual_seed(0)
    depth = 6
    stack = nn.Sequential(*[layer for _ in range(depth)
                            for layer in (nn.Conv2d(4, 4, 3, padding=1), nn.ReLU())])
    stack[0] = nn.Conv2d(1, 4, 3, padding=1)
    erf = effective_receptive_field(stack, (1, 31, 31), samples=16)
    assert erf.shape == (31, 31)
    assert erf.max() == 1
    peak = divmod(int(erf.argmax()), 31)
    assert abs(peak[0] - 15) <= 2 and abs(peak[1] - 15) <= 2
    theoretical = receptive_field(layer_geometry(stack))
    assert theoretical == 2 * depth + 1
    assert effective_size(erf, 1.0) <= theoretical  # nothing outside the theoretical field
    assert effective_size(erf, 0.9) < theoretical  # and most of it well inside


def test_effective_field_leaves_the_model_as_it_was():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dropout(0.5)).train()
    effective_receptive_field(model, (1, 9, 9))
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    with pytest.raises(ValueError, match="feature maps"):
        effective_receptive_field(nn.Sequential(nn.Flatten(), nn.Linear(81, 2)), (1, 9, 9))
    with pytest.raises(ValueError, match="input_size"):
        effective_receptive_field(model, (9, 9))


def test_effective_size_on_a_known_map():
    square = torch.zeros(11, 11)
    square[3:8, 3:8] = 1  # a centred 5x5 block
    assert effective_size(square, 1.0) == 5
    assert effective_size(square, 9 / 25) == 3
    assert effective_size(square, 0.01) == 1
    with pytest.raises(ValueError, match="share"):
        effective_size(square, 0)
    with pytest.raises(ValueError, match="H x W"):
        effective_size(torch.ones(3), 0.5)
