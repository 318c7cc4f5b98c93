"""Notebook 11 (after training): global magnitude pruning to a target sparsity, int8 by hand
(scale and zero point) and back, a rank for a parameter budget, and a batch norm folded into
the weights before quantizing."""

import torch

from cnnlab.compress import affine_int8
from cnnlab.grading import Case, Exercise


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def global_magnitude_masks(weights: list, sparsity: float) -> list:
    """One bool mask per tensor (True = kept): the round(sparsity * N) weights of smallest |w|,
    ranked over all N weights of all tensors together, are dropped."""
    magnitudes = torch.cat([w.abs().flatten() for w in weights])
    drop = round(sparsity * magnitudes.numel())
    if drop == 0:
        return [torch.ones_like(w, dtype=torch.bool) for w in weights]
    threshold = magnitudes.kthvalue(drop).values
    return [w.abs() > threshold for w in weights]


def quantize_int8(x: torch.Tensor) -> tuple:
    """``(q, scale, zero_point)``: the range [min(x, 0), max(x, 0)] mapped onto -128..127."""
    low, high = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    scale = (high - low) / 255 or 1.0
    zero_point = int(min(max(-128 - round(low / scale), -128), 127))
    q = torch.clamp(torch.round(x / scale) + zero_point, -128, 127).to(torch.int8)
    return q, scale, zero_point


def dequantize_int8(q: torch.Tensor, scale: float, zero_point: int) -> torch.Tensor:
    """The float32 values the int8 codes stand for."""
    return scale * (q.float() - zero_point)


def rank_for_budget(out_features: int, in_features: int, budget: int) -> int:
    """The largest rank r whose factorization r * (out + in) fits ``budget`` parameters, never
    above min(out, in), where the factors stop adding anything (0 when not even rank 1 fits)."""
    return min(budget // (out_features + in_features), out_features, in_features)


def fold_batch_norm(weight, bias, mean, var, gamma, beta, eps=1e-5) -> tuple:
    """The convolution's ``(weight, bias)`` that already apply the batch norm after it."""
    scale = gamma / torch.sqrt(var + eps)
    return weight * scale.view(-1, 1, 1, 1), (bias - mean) * scale + beta


def _bn(channels: int, in_channels: int, seed: int, kernel: int = 3) -> tuple:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(channels, in_channels, kernel, kernel, generator=g),
            torch.randn(channels, generator=g), torch.randn(channels, generator=g),
            torch.rand(channels, generator=g) + 0.5, torch.rand(channels, generator=g) + 0.5,
            torch.randn(channels, generator=g))


def _layer_wise(weights, sparsity):
    return [w.abs() > w.abs().flatten().kthvalue(max(1, round(sparsity * w.numel()))).values
            for w in weights]


def _symmetric(x):
    scale = float(x.abs().max()) / 127 or 1.0
    return torch.clamp(torch.round(x / scale), -128, 127).to(torch.int8), scale, 0


EXERCISES = [
    Exercise(
        id="11.global_magnitude_masks",
        points=2,
        reference=global_magnitude_masks,
        visible=[
            Case(([_randn(4, 3, seed=1), _randn(6, seed=2)], 0.5),
                 why="two layers, half of all weights"),
            Case(([_randn(2, 2, 3, 3, seed=3), _randn(5, 8, seed=4) * 0.1], 0.75),
                 why="a conv and a linear whose weights are ten times smaller"),
        ],
        hidden=[
            Case(([_randn(10, seed=5)], 0.0), why="sparsity 0: nothing is dropped"),
            Case(([_randn(8, 4, seed=6), _randn(3, 3, seed=7) * 5], 0.9), why="90% of the weights"),
            Case(([-_randn(7, seed=8).abs(), _randn(9, seed=9).abs()], 0.5),
                 why="one layer all negative: the size of a weight, not its sign"),
            Case(([_randn(3, 1, 5, 5, seed=10), _randn(20, seed=11), _randn(4, 6, seed=12)], 0.3),
                 why="three layers, 30%"),
        ],
        hint=("Global means one ranking for every weight of every layer: which single number "
              "separates the dropped weights from the kept ones, and how many weights lie below it?",
              "Concatenate all |w| into one vector, take its k-th smallest value with "
              "torch.kthvalue for k = round(sparsity * N), and keep |w| > that threshold in each "
              "tensor; with k = 0 keep everything. Return bool masks shaped like the weights."),
        slips={"each layer ranked on its own": _layer_wise,
               "sign instead of magnitude": lambda ws, s: global_magnitude_masks(
                   [w - min(float(v.min()) for v in ws) for w in ws], s),
               "kept the smallest instead": lambda ws, s: [~m for m in global_magnitude_masks(ws, s)]},
    ),
    Exercise(
        id="11.quantize_int8",
        points=2,
        reference=quantize_int8,
        fallback=affine_int8,
        visible=[
            Case((torch.tensor([-10.0, 0.0, 3.5, 7.25]),), why="seed 002's -10 among a few weights"),
            Case((_randn(3, 4, seed=13),), why="a small weight matrix"),
        ],
        hidden=[
            Case((torch.rand(6, generator=torch.Generator().manual_seed(14)) + 1,),
                 why="all positive (a ReLU's output): the range must still hold 0"),
            Case((-torch.rand(5, generator=torch.Generator().manual_seed(15)) - 2,),
                 why="all negative"),
            Case((torch.zeros(4),), why="all zeros: a scale that does not divide by zero"),
            Case((_randn(2, 3, 3, seed=16) * 100,), why="large values"),
        ],
        hint=("int8 has 256 codes, -128..127. Which real interval must they cover (zero must be "
              "exact), how wide is one step, and which code stands for 0.0?",
              "low = min(x.min(), 0), high = max(x.max(), 0); scale = (high - low) / 255 (use 1.0 "
              "if that is 0); zero_point = -128 - round(low / scale), an int clamped to -128..127; "
              "q = clamp(round(x / scale) + zero_point, -128, 127) as torch.int8."),
        slips={"symmetric scale (max |x| / 127, zero point 0)": _symmetric},
    ),
    Exercise(
        id="11.dequantize_int8",
        points=1,
        reference=dequantize_int8,
        visible=[
            Case((torch.tensor([-128, 61, 127], dtype=torch.int8), 0.0529, 61),
                 why="codes of [-10, 0, 3.5]"),
        ],
        hidden=[
            Case((torch.tensor([[0, 5], [-5, 127]], dtype=torch.int8), 0.5, 0), why="zero point 0"),
            Case((torch.tensor([-128, -100, 0], dtype=torch.int8), 0.01, -128),
                 why="a range that starts at 0 (zero point -128)"),
        ],
        hint=("Quantizing computed q = x / scale + zero_point and rounded. Undo it in the other "
              "order, and mind int8 arithmetic.",
              "Convert q to float first (int8 overflows), subtract zero_point, multiply by scale."),
        slips={"added the zero point": lambda q, s, z: s * (q.float() + z)},
    ),
    Exercise(
        id="11.rank_for_budget",
        points=1,
        reference=rank_for_budget,
        uses=[Case((64, 2048, 16_384))],
        visible=[
            Case((64, 2048, 16_384), why="the small net's big linear layer at an eighth of its size"),
            Case((3, 3, 7), why="seed 002's 3x3 example, room for one rank"),
        ],
        hidden=[
            Case((100, 100, 50_000), why="a budget beyond the full matrix: the rank stops at 100"),
            Case((10, 20, 29), why="not even rank 1 fits"),
            Case((256, 64, 9_000), why="a 1x1 conv 64 -> 256"),
            Case((512, 512, 65_537), why="one parameter more than rank 64 needs"),
        ],
        hint=("Write down what a rank-r factorization A (out x r) times B (r x in) costs, and ask "
              "what a rank beyond the smaller side could add.",
              "r (out + in) <= budget gives r = budget // (out + in), a whole number; then cap it at "
              "min(out, in)."),
    ),
    Exercise(
        id="11.fold_batch_norm",
        points=2,
        reference=fold_batch_norm,
        visible=[
            Case(_bn(4, 2, seed=17), why="four channels, 3x3 kernels"),
            Case(_bn(2, 3, seed=18, kernel=1), why="a 1x1 convolution"),
        ],
        hidden=[
            Case(_bn(3, 3, seed=19) + (1e-3,), why="a larger eps"),
            Case(_bn(1, 4, seed=20, kernel=5), why="one output channel, 5x5"),
            Case(_bn(6, 1, seed=21), why="six output channels from one input"),
        ],
        hint=("In eval mode the norm computes gamma (y - mean) / sqrt(var + eps) + beta per output "
              "channel, y being the conv's output. Substitute y = W x + b and read off the new W and b.",
              "s = gamma / sqrt(var + eps) per output channel; W' = W * s.view(-1, 1, 1, 1) (one "
              "factor per output channel, the first dimension); b' = (b - mean) * s + beta."),
        slips={"forgot the square root": lambda w, b, m, v, g, be, eps=1e-5: (
                   w * (g / (v + eps)).view(-1, 1, 1, 1), (b - m) * g / (v + eps) + be),
               "bias not shifted by the mean": lambda w, b, m, v, g, be, eps=1e-5: (
                   w * (g / torch.sqrt(v + eps)).view(-1, 1, 1, 1), b * g / torch.sqrt(v + eps) + be)},
    ),
]
