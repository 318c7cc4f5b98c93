"""cnnlab.sketch: the graph comes from the module's own forward pass; the drawing labels it."""

import matplotlib
import matplotlib.pyplot as plt
import pytest
from torch import nn

from cnnlab import layers, models, sketch

matplotlib.use("Agg")


def edges(nodes):
    return {(nodes[s].label, node.label) for node in nodes for s in node.inputs}


def test_a_residual_block_is_a_branch_and_a_shortcut_joined_by_a_sum():
    nodes = sketch.trace(layers.ShiftModule(16, 32, 8, stride=2, norm_layer=None), (16, 8, 8))
    assert [n.label for n in nodes] == ["input", "conv 1x1", "ReLU", "shift 3x3", "conv 1x1 /2",
                                        "conv 1x1 /2", "+", "ReLU"]
    add = nodes[6]
    assert add.kind == "join" and len(add.inputs) == 2 and add.shape == (32, 4, 4)
    assert {nodes[i].label for i in add.inputs} == {"conv 1x1 /2"}  # branch end and projection
    assert nodes[5].inputs == [0]  # the projection reads the block's input


def test_branches_that_concatenate_meet_in_one_node():
    nodes = sketch.trace(layers.InceptionModule(8, 4, 6, 2, 3, ch3x3red=5, ch5x5red=2,
                                                norm_layer=None), (8, 6, 6))
    [concat] = [n for n in nodes if n.kind == "join"]
    assert concat.label == "concat" and concat.shape == (4 + 6 + 2 + 3, 6, 6)
    assert len(concat.inputs) == 4
    assert ("input", "max pool 3x3") in edges(nodes)


def test_collapse_draws_a_block_as_one_box_and_views_are_no_nodes():
    net = nn.Sequential(layers.ResidualBlock(4, 4), layers.ResidualBlock(4, 8, 2), nn.Flatten(),
                        nn.Linear(8 * 4 * 4, 3))
    nodes = sketch.trace(net, (4, 8, 8), collapse=[layers.ResidualBlock])
    assert [n.label for n in nodes] == ["input", "ResidualBlock", "ResidualBlock", "Flatten",
                                        "fc 3"]
    assert [n.inputs for n in nodes[1:]] == [[0], [1], [2], [3]]


def test_labels_say_what_each_layer_is():
    assert sketch.label(nn.Conv2d(8, 8, 3, stride=2, groups=8)) == "depthwise conv 3x3 /2"
    assert sketch.label(nn.Conv2d(8, 16, (1, 7), groups=2)) == "g=2 conv 1x7"
    assert sketch.label(nn.MaxPool2d(3, 2)) == "max pool 3x3 /2"
    assert sketch.label(nn.ChannelShuffle(4)) == "shuffle g=4"


def test_draw_hides_what_it_is_told_and_wires_through():
    nodes = sketch.trace(models.create("lenet5"), (3, 32, 32))
    fig = sketch.draw(nodes, title="LeNet-5", hide=("Tanh",))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "Tanh" not in texts and "conv 5x5" in texts and "6x28x28" in texts
    assert fig.axes[0].get_title() == "LeNet-5"
    plt.close(fig)
    fig, axes = plt.subplots(1, 2)
    assert sketch.draw(nodes, ax=axes[1]) is fig and axes[1].texts and not axes[0].texts
    plt.close(fig)
    with pytest.raises(ValueError, match="trace"):
        sketch.draw([])
    with pytest.raises(TypeError, match="nn.Module"):
        sketch.trace("lenet5", (3, 32, 32))
