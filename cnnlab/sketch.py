"""Architecture sketches drawn from a module's own forward pass, so they cannot drift from it.

:func:`trace` runs one input through the module on the meta device and records the graph the data
flows through: every leaf module (or every module of a ``collapse`` type) is a node, and so is
every operation outside them that joins two paths (a residual sum, a concatenation). Operations
on one path only (flatten, views) are not nodes. :func:`draw` lays the graph out top to bottom,
one row per depth, parallel branches side by side, and labels each box with what it is and the
shape it writes.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from cnnlab.checks import integer
from cnnlab.ops import Shift

__all__ = ["Node", "draw", "label", "trace"]

_JOINS = {torch.add: "+", torch.Tensor.add: "+", torch.Tensor.__add__: "+", torch.cat: "concat",
          torch.mul: "x", torch.Tensor.mul: "x", torch.Tensor.__mul__: "x"}


@dataclass
class Node:
    """One box of a sketch: what it is, the shape it writes (no batch), where its inputs come from."""

    label: str
    kind: str  # "input", a module's class name, or "join"
    shape: tuple[int, ...]
    inputs: list[int] = field(default_factory=list)


def label(module: nn.Module) -> str:
    """A short name for a layer, as a figure would print it: ``conv 3x3 /2``, ``BN``, ``fc 10``."""
    if isinstance(module, nn.Conv2d):
        text = f"conv {'x'.join(map(str, module.kernel_size))}"
        if module.groups > 1:
            text = ("depthwise " if module.groups == module.in_channels else f"g={module.groups} ") + text
        return text + (f" /{module.stride[0]}" if max(module.stride) > 1 else "")
    if isinstance(module, nn.MaxPool2d | nn.AvgPool2d):
        kernel = module.kernel_size if isinstance(module.kernel_size, int) else module.kernel_size[0]
        stride = module.stride if isinstance(module.stride, int) else module.stride[0]
        kind = "max" if isinstance(module, nn.MaxPool2d) else "avg"
        return f"{kind} pool {kernel}x{kernel}" + (f" /{stride}" if stride > 1 else "")
    if isinstance(module, nn.Linear):
        return f"fc {module.out_features}"
    if isinstance(module, nn.BatchNorm2d | nn.BatchNorm1d):
        return "BN"
    if isinstance(module, nn.ChannelShuffle):
        return f"shuffle g={module.groups}"
    if isinstance(module, Shift):
        return f"shift {module.kernel_size}x{module.kernel_size}"
    if isinstance(module, nn.LocalResponseNorm):
        return "LRN"
    return type(module).__name__


class _Recorder(TorchFunctionMode):
    """Keeps, for every tensor the forward pass makes, the node that produced it."""

    def __init__(self, nodes: list[Node], producers: dict[int, int], keep: list):
        super().__init__()
        self.nodes, self.producers, self.keep = nodes, producers, keep
        self.inside = 0  # > 0 while a node's module runs: its own operations are not nodes

    def sources(self, values) -> list[int]:
        found = []
        for value in values:
            if isinstance(value, list | tuple):
                found += self.sources(value)
            elif isinstance(value, torch.Tensor) and id(value) in self.producers:
                found.append(self.producers[id(value)])
        return list(dict.fromkeys(found))

    def produced(self, result, node: int) -> None:
        for tensor in (result if isinstance(result, list | tuple) else [result]):
            if isinstance(tensor, torch.Tensor):
                self.producers[id(tensor)] = node
                self.keep.append(tensor)  # so that no later tensor reuses its id

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        if self.inside:
            return result
        sources = self.sources([*args, *(kwargs or {}).values()])
        if len(sources) > 1 and isinstance(result, torch.Tensor):
            self.nodes.append(Node(_JOINS.get(func, getattr(func, "__name__", "op")), "join",
                                   tuple(result.shape[1:]), sources))
            self.produced(result, len(self.nodes) - 1)
        elif len(sources) == 1:
            self.produced(result, sources[0])  # a view or reshape of one path: the same node
        return result


def trace(model: nn.Module, input_shape: Sequence[int],
          collapse: Sequence[type] = (), training: bool = False) -> list[Node]:
    """The nodes of ``model``'s graph for one input of ``input_shape`` (no batch dimension).

    Leaf modules are nodes; so is any module whose type is in ``collapse`` (drawn as one box:
    a ``ResidualBlock`` in a ResNet sketch, say). Node 0 is the input. ``training`` traces the
    training forward, where GoogLeNet's auxiliary heads run.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}.")
    shape = tuple(integer("input_shape", n) for n in input_shape)
    model = copy.deepcopy(model).to("meta").train(training)
    boxes = [m for m in model.modules()
             if isinstance(m, tuple(collapse)) or next(m.children(), None) is None]
    inside_box = {m for box in boxes for m in box.modules() if m is not box}
    boxes = [m for m in boxes if m not in inside_box]
    nodes = [Node("input", "input", shape)]
    x = torch.zeros(1, *shape, device="meta")
    producers, keep = {id(x): 0}, [x]
    recorder = _Recorder(nodes, producers, keep)

    sources: dict[nn.Module, list[int]] = {}  # a box's inputs, from its pre-hook to its hook

    def before(module, args):
        sources[module] = recorder.sources(args)
        recorder.inside += 1

    def after(module, args, output):
        recorder.inside -= 1
        out = output[0] if isinstance(output, list | tuple) else output
        nodes.append(Node(label(module), type(module).__name__, tuple(out.shape[1:]),
                          sources.pop(module)))
        recorder.produced(output, len(nodes) - 1)

    handles = [h for m in boxes for h in (m.register_forward_pre_hook(before),
                                           m.register_forward_hook(after))]
    try:
        with torch.no_grad(), recorder:
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return nodes


_COLOURS = {"Conv2d": "#c6dbef", "Linear": "#c7e9c0", "BatchNorm2d": "#f0f0f0",
            "MaxPool2d": "#fdd0a2", "AvgPool2d": "#fdd0a2", "AdaptiveAvgPool2d": "#fdd0a2",
            "Shift": "#dadaeb", "ChannelShuffle": "#dadaeb", "join": "#fcbba1", "input": "#ffffff"}


def draw(nodes: Sequence[Node], *, title: str = "", hide: Sequence[str] = (), width: float = 1.7,
         ax=None):
    """Draw :func:`trace`'s nodes as boxes and arrows, top to bottom; returns the Figure.

    ``ax`` draws into an existing Axes (two sketches side by side, say) instead of a new figure.

    Node kinds in ``hide`` (class names, e.g. ``("ReLU", "BatchNorm2d")``) are left out and their
    inputs wired through, to keep a large sketch readable. Each box shows the node's label and the
    shape it writes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    if not nodes:
        raise ValueError("nodes is empty: pass what trace() returns.")
    through: dict[int, list[int]] = {}
    shown = []
    for index, node in enumerate(nodes):
        sources = [s for source in node.inputs for s in through.get(source, [source])]
        if node.kind in hide:
            through[index] = list(dict.fromkeys(sources))
        else:
            shown.append((index, list(dict.fromkeys(sources))))
    depth, rows = {}, {}
    for index, sources in shown:
        depth[index] = 1 + max((depth[s] for s in sources), default=-1)
        rows.setdefault(depth[index], []).append(index)
    position, sources_of = {}, dict(shown)
    for level, members in sorted(rows.items()):  # each row ordered under its parents
        members.sort(key=lambda i: sum(position[s][0] for s in sources_of[i])
                     / max(len(sources_of[i]), 1))
        for slot, index in enumerate(members):
            position[index] = (width * (slot - (len(members) - 1) / 2), -level)
    span = max(len(members) for members in rows.values())
    if ax is None:
        _, ax = plt.subplots(figsize=(max(3.0, 1.9 * span), 0.62 * len(rows) + 0.6))
    for index, sources in shown:
        x, y = position[index]
        node = nodes[index]
        for source in sources:
            sx, sy = position[source]
            ax.annotate("", xy=(x, y + 0.24), xytext=(sx, sy - 0.24),
                        arrowprops={"arrowstyle": "->", "color": "grey", "lw": 0.9})
        ax.add_patch(FancyBboxPatch((x - 0.75, y - 0.22), 1.5, 0.44, boxstyle="round,pad=0.02",
                                    facecolor=_COLOURS.get(node.kind, "#e5f5e0"),
                                    edgecolor="black", lw=0.7))
        ax.text(x, y + 0.06, node.label, ha="center", va="center", fontsize=7.5)
        ax.text(x, y - 0.11, "x".join(map(str, node.shape)), ha="center", va="center",
                fontsize=6.5, color="dimgrey")
    xs = [x for x, _ in position.values()]
    ax.set(xlim=(min(xs) - 1, max(xs) + 1), ylim=(-len(rows) + 0.4, 0.6), title=title)
    ax.axis("off")
    ax.figure.tight_layout()
    return ax.figure
