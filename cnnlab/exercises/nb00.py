"""Notebook 00 (start here): one warm-up exercise that shows how grading works."""

import torch

from cnnlab.grading import Case, Exercise
from cnnlab.train import accuracy


def _batch(n: int, classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, classes, generator=g), torch.randint(classes, (n,), generator=g)


EXERCISES = [
    Exercise(
        id="00.accuracy",
        points=1,
        reference=accuracy,
        slips={"you return a fraction (0 to 1), not a percent":
               lambda logits, labels: accuracy(logits, labels) / 100},
        visible=[
            Case((torch.tensor([[2.0, 1.0], [0.1, 0.3]]), torch.tensor([0, 1])),
                 why="both rows right"),
            Case((torch.tensor([[2.0, 1.0, 0.0], [0.0, 1.0, 2.0], [5.0, 0.0, 0.0]]),
                  torch.tensor([0, 0, 1])), why="one of three right"),
            Case(_batch(8, 4, seed=1)),
        ],
        hidden=[Case(_batch(64, 10, seed=s), why="64 random rows over 10 classes") for s in (2, 3)]
        + [Case(_batch(5, 3, seed=4), why="five rows, three classes")],
        hint=("What is the network's prediction for one row of logits, and how do you count the rows "
              "where it matches the label? Mind the unit the course's tables use.",
              "Each row of `logits` holds one example's scores; the prediction is the column with the"
              " largest score (look at `Tensor.argmax` and its `dim`). Like every table in this "
              "course, give the accuracy in percent (0 to 100), as a Python float."),
    ),
]
