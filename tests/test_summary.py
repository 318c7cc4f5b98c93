"""cnnlab.summary: torchvision models against sum(p.numel()), FlopCounterMode and the published
GMACs; torchvision's own blocks against the closed forms; and the table's behaviour."""

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnlab import arithmetic as ar
from cnnlab import layers
from cnnlab.summary import UnruledLayerWarning, cost_of, published_gmacs, summary

MODELS = ["alexnet", "vgg16", "googlenet", "resnet18", "squeezenet1_0", "squeezenet1_1",
          "mobilenet_v2", "shufflenet_v2_x1_0"]
FLOP_COUNTED = {"Conv2d", "Linear"}  # the layers FlopCounterMode counts (conv, mm, addmm)


def meta_model(name):
    """A torchvision model with weights=None on the meta device: shapes only, built instantly."""
    extra = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    with torch.device("meta"):
        return torchvision.models.get_model(name, weights=None, **extra)


@pytest.fixture(scope="module", params=MODELS)
def model_at_224(request):
    model = meta_model(request.param)
    return request.param, model, summary(model, (3, 224, 224), device="meta")


def test_parameters_match_numel(model_at_224):
    _, model, table = model_at_224
    assert table.total_params == sum(p.numel() for p in model.parameters())
    # Every parameter lives in a leaf, and no torchvision leaf runs twice.
    assert sum(row["params"] for row in table.rows) == table.total_params


def test_conv_and_linear_macs_match_flop_counter(model_at_224):
    _, model, table = model_at_224
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, 224, 224, device="meta"))
    counted = sum(row["macs"] for row in table.rows if row["type"] in FLOP_COUNTED)
    assert 2 * counted == counter.get_total_flops()
    # FlopCounterMode ignores batch norm and pooling, which we count.
    uncounted = {row["type"] for row in table.rows if row["macs"]} - FLOP_COUNTED
    assert (table.total_macs > counted) == bool(uncounted)


def test_macs_match_torchvision_published_gmacs(model_at_224):
    name, _, table = model_at_224
    counted = sum(row["macs"] for row in table.rows if row["type"] in FLOP_COUNTED)
    # meta["_ops"] is rounded to 3 decimals of GMACs; as FLOPs it would be off by 2x.
    assert abs(counted / 1e9 - published_gmacs(name)) <= 0.0005 + 1e-12
    assert abs(table.total_flops / 1e9 - published_gmacs(name)) > 0.1


def test_cpu_run_matches_meta_run():
    torch.manual_seed(0)
    cpu = torchvision.models.resnet18(num_classes=10)
    with torch.device("meta"):
        meta = torchvision.models.resnet18(num_classes=10)
    on_cpu = summary(cpu, (3, 32, 32))
    assert on_cpu.rows == summary(meta, (3, 32, 32), device="meta").rows
    assert on_cpu.rows[-1]["out_shape"] == (10,)


# ---------------------------------------------------------------------------- torchvision blocks


def blocks_of(model, type_name, size):
    """Blocks of one type: name, module, and the shapes that enter and leave it."""
    blocks = [(n, m) for n, m in model.named_modules() if type(m).__name__ == type_name]
    shapes = {}

    def record(module, args, output):
        shapes[module] = (tuple(args[0].shape[1:]), tuple(output.shape[1:]))

    handles = [module.register_forward_hook(record) for _, module in blocks]
    model.eval()(torch.zeros(1, 3, size, size, device="meta"))
    for handle in handles:
        handle.remove()
    return [(name, module, *shapes[module]) for name, module in blocks]


def assert_same_cost(theirs, in_shape, out_shape, ours):
    """torchvision's block and ours cost the same: every figure, both measured by cost_of."""
    mine, reference = cost_of(ours, in_shape), cost_of(theirs, in_shape)
    assert mine == reference
    assert mine.out_shape == out_shape


def test_resnet_blocks_match_residual_block():
    for name, type_name in (("resnet18", "BasicBlock"), ("resnet50", "Bottleneck")):
        model = meta_model(name)
        blocks = blocks_of(model, type_name, 64)
        assert len(blocks) == (8 if name == "resnet18" else 16)
        for _, block, in_shape, out_shape in blocks:
            basic = type_name == "BasicBlock"
            last, spatial = (block.conv2, block.conv1) if basic else (block.conv3, block.conv2)
            ours = layers.ResidualBlock(
                in_shape[0], last.out_channels, spatial.stride[0],
                kind="basic" if basic else "bottleneck", mid_channels=block.conv1.out_channels,
                groups=spatial.groups)
            assert_same_cost(block, in_shape, out_shape, ours)


def test_squeezenet_fire_modules_match_fire_module():
    for name in ("squeezenet1_0", "squeezenet1_1"):
        model = meta_model(name)
        blocks = blocks_of(model, "Fire", 224)
        assert len(blocks) == 8
        for _, fire, in_shape, out_shape in blocks:
            ours = layers.FireModule(in_shape[0], fire.squeeze.out_channels,
                                     fire.expand1x1.out_channels, fire.expand3x3.out_channels,
                                     bias=True, norm_layer=None)
            assert_same_cost(fire, in_shape, out_shape, ours)


def test_googlenet_inception_modules_match_the_paper_table():
    model = meta_model("googlenet")
    blocks = blocks_of(model, "Inception", 224)
    assert [name for name, *_ in blocks] == [f"inception{key}" for key in layers.GOOGLENET_INCEPTION]
    widths = {"3a": 256, "3b": 480, "4a": 512, "4b": 512, "4c": 512, "4d": 528, "4e": 832,
              "5a": 832, "5b": 1024}  # the paper's output depths
    for block_name, block, in_shape, out_shape in blocks:
        key = block_name.removeprefix("inception")
        config = dict(layers.GOOGLENET_INCEPTION[key])
        size = config.pop("in_size")
        assert in_shape == (config["in_channels"], size, size)
        # torchvision's "5x5" branch uses a 3x3 kernel (kept for its weights); BN, no bias.
        ours = layers.InceptionModule(**config, large_branch="3x3")
        assert_same_cost(block, in_shape, out_shape, ours)
        assert out_shape[0] == widths[key]


def test_mobilenet_v2_inverted_residuals_match_bottleneck_with_depthwise():
    model = meta_model("mobilenet_v2")
    blocks = [b for b in blocks_of(model, "InvertedResidual", 224) if len(b[1].conv) == 4]
    assert len(blocks) == 16  # every block but the first, which has no expansion
    for _, block, in_shape, out_shape in blocks:
        depthwise = block.conv[1][0]
        ours = layers.ResidualBlock(
            in_shape[0], block.out_channels, depthwise.stride[0], kind="bottleneck",
            variant="shuffle", mid_channels=depthwise.in_channels,
            shortcut="identity" if block.use_res_connect else "none")
        assert_same_cost(block, in_shape, out_shape, ours)


# ---------------------------------------------------------------------------- table behaviour


class TwiceConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.conv(self.act(self.conv(x))))


class MatmulLeaf(nn.Module):
    """A leaf type summary does not know: its MACs come from FlopCounterMode."""

    def __init__(self, features_in, features_out):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(features_in, features_out))

    def forward(self, x):
        return x.flatten(1) @ self.weight


def test_module_called_twice_counts_each_call():
    table = summary(TwiceConv(), (4, 6, 6))
    conv_rows = [row for row in table.rows if row["name"] == "conv"]
    assert [row["call"] for row in conv_rows] == [1, 2]
    assert table.total_macs == 2 * ar.conv2d(4, 4, 6, 3, padding=1).macs
    assert table.total_params == 4 * 4 * 9 + 4
    assert "conv #2" in str(table)
    assert all(row["activations"] == 0 for row in table.rows if row["type"] == "ReLU")


def test_unknown_leaf_is_reported_and_uses_flop_counter():
    model = nn.Sequential(nn.Conv2d(3, 5, 1), MatmulLeaf(5 * 4 * 4, 7))
    with pytest.warns(UnruledLayerWarning, match="no cost rule for MatmulLeaf"):
        table = summary(model, (3, 4, 4))
    assert table.rows[1]["type"] == "MatmulLeaf" and not table.rows[1]["ruled"]
    assert table.rows[1]["macs"] == 5 * 4 * 4 * 7
    assert table.rows[1]["out_shape"] == (7,)
    text = str(table)
    assert "MatmulLeaf *" in text and "* no cost rule" in text


def test_norms_lrn_and_lenet_layers_have_rules():
    """No leaf the course uses is counted as 0 by default: each has a rule."""
    for norm in (nn.InstanceNorm2d(4), nn.GroupNorm(2, 4), nn.BatchNorm2d(4)):
        assert summary(norm, (4, 5, 5)).total_macs == 4 * 25
    assert summary(nn.LocalResponseNorm(5), (8, 3, 3)).total_macs == 5 * 8 * 9
    from cnnlab.models.lenet import C3_TABLE, PartialConv2d, Subsampling

    c3 = summary(PartialConv2d(6, C3_TABLE, 5), (6, 14, 14))
    assert c3.total_macs == 10 * 10 * 60 * 25  # LeNet's 151,600 connections less 1,600 biases
    assert summary(Subsampling(6), (6, 28, 28)).total_macs == 14 * 14 * 6 * 5  # 5,880


def test_free_ops_cost_no_macs_no_traffic_and_no_memory():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Dropout(), nn.Identity(),
                          nn.ChannelShuffle(2), nn.Flatten())
    table = summary(model, (3, 6, 6))
    conv, *free = table.rows
    assert all(row["macs"] == row["bytes_moved"] == row["activations"] == 0 for row in free)
    assert conv["bytes_moved"] == 4 * (3 * 36 + 4 * 3 * 9 + 4 + 4 * 36)
    assert conv["activations"] == 4 * 36
    cost, conv_alone = cost_of(model, (3, 6, 6)), ar.conv2d(3, 4, 6, 3, padding=1)
    assert cost.out_shape == (4 * 36,)
    assert (cost.params, cost.macs, cost.activations, cost.elements_moved) == (
        conv_alone.params, conv_alone.macs, conv_alone.activations, conv_alone.elements_moved)


def test_pooling_and_transposed_convolution_macs():
    pool = nn.AdaptiveAvgPool1d(3)
    # Each one-hot input lights up every window it belongs to: nonzeros = window sizes summed.
    windows = int((pool(torch.eye(7).unsqueeze(0)) > 0).sum())
    assert summary(pool, (2, 7)).total_macs == 2 * windows
    avg = summary(nn.AvgPool2d(3, 2, 1), (4, 9, 9))
    assert avg.total_macs == ar.pool2d(4, 9, 3, stride=2, padding=1, mode="avg").macs
    up = nn.ConvTranspose2d(6, 4, 4, stride=2, padding=1, groups=2)
    with FlopCounterMode(display=False) as counter:
        up(torch.zeros(1, 6, 5, 5))
    assert 2 * summary(up, (6, 5, 5)).total_macs == counter.get_total_flops()


def test_summary_leaves_the_model_as_it_was():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout())
    model.train()
    model[2].eval()
    before = model[1].running_mean.clone()
    summary(model, (3, 8, 8))
    assert [m.training for m in model] == [True, True, False]
    assert torch.equal(model[1].running_mean, before)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_top_totals_and_rendering():
    model = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(inplace=True),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 16 * 16, 10))
    table = summary(model, (3, 32, 32), dtype_bytes=2)
    assert [row["name"] for row in table.top(2)] == ["0", "2"]
    assert table.top(1, by="params")[0]["name"] == "4"
    assert [row["activations"] for row in table.rows[1::2]] == [0, 0]  # in place, view
    assert table.total_flops == 2 * table.total_macs
    assert table.total_activation_bytes == 2 * table.total_activations
    assert table.input_bytes == 2 * 3 * 32 * 32
    by_type = table.by_type()
    assert list(by_type.values()) == sorted(by_type.values(), reverse=True)
    assert by_type["Conv2d"] == ar.conv2d(3, 64, 32, 3, padding=1).macs
    assert sum(by_type.values()) == table.total_macs
    text = str(table)
    assert f"{table.total_params:,}" in text and f"{table.total_macs:,}" in text
    assert text.splitlines()[-2].split() == ["Total", f"{table.total_params:,}",
                                             f"{table.total_macs:,}",
                                             f"{table.total_activation_bytes:,}"]
    flops_note = f"FLOPs = 2 x MACs = {table.total_flops:,}"
    assert text.splitlines()[-1].startswith(flops_note)
    page = table._repr_html_()
    assert page.startswith("<table>") and f"{table.total_macs:,}" in page
    assert "<tfoot>" in page and flops_note in page
    with pytest.raises(ValueError, match="by must be one of"):
        table.top(3, by="name")
    with pytest.raises(ValueError, match="n must be"):
        table.top(0)


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="input_size"):
        summary(nn.Linear(3, 3), (0, 3))
    with pytest.raises(ValueError, match="input_size"):
        summary(nn.Linear(3, 3), 3)
    with pytest.raises(ValueError, match="dtype_bytes"):
        summary(nn.Linear(3, 3), (3,), dtype_bytes=0)
    with pytest.raises(TypeError, match="nn.Module"):
        summary(lambda x: x, (3,))
    with pytest.raises(ValueError, match="device"):
        summary(nn.Linear(3, 3), (3,), device="meta")
    with pytest.raises(ValueError, match="list_models"):
        published_gmacs("not_a_model")


# ---------------------------------------------------------------------------- the course's models


@pytest.mark.parametrize("name", __import__("cnnlab.models", fromlist=["list_models"]).list_models())
def test_course_models_params_and_macs_match_torch(name):
    """Every model cnnlab defines: parameters against numel, conv/linear MACs against FlopCounterMode."""
    from cnnlab.models import create, model_spec

    input_size = model_spec(name).input_size
    with torch.device("meta"):
        model = create(name).eval()
    table = summary(model, input_size, device="meta")
    assert table.total_params == sum(p.numel() for p in model.parameters())
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, *input_size, device="meta"))
    # LeNet's partial C3 runs as a dense, mostly-zero convolution, which FlopCounterMode counts
    # whole; its rule counts the table's connections (test_norms_lrn_and_lenet_layers_have_rules).
    counted = sum(row["macs"] for row in table.rows if row["type"] in FLOP_COUNTED)
    dense = sum(2 * 100 * m.out_channels * m.in_channels * m.kernel_size**2
                for m in model.modules() if type(m).__name__ == "PartialConv2d")
    assert 2 * counted + dense == counter.get_total_flops()
    assert all(row["ruled"] for row in table.rows)
