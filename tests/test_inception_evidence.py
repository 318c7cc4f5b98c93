"""The effects notebook 04 claims from its smoke runs, over five seeds, and the tools it uses
to show them (calibration metrics, the reliability diagram, training-mode sketches)."""

from functools import partial

import matplotlib
import pytest
import torch
from torch import nn

from cnnlab import data, metrics, plots, sketch, train
from cnnlab.layers.inception import InceptionModule, factorised_branch
from cnnlab.models import create
from cnnlab.models.googlenet import AuxClassifier, inception_loss

matplotlib.use("Agg")
SEEDS = range(5)


def early_gradients(seed):
    """The notebook's probe: first-conv gradient with the auxiliary losses off, then on."""
    torch.manual_seed(seed)
    net = create("googlenet_cifar", large_branch="3x3+3x3", aux_logits=True)
    probe = partial(train.first_layer_gradient, net, batch=8, seed=seed, input_size=(3, 8, 8))
    return (probe(loss_fn=partial(inception_loss, weights=(1.0, 0.0))),
            probe(loss_fn=partial(inception_loss, weights="paper")))


def test_auxiliary_losses_add_a_little_to_the_early_gradient_for_every_seed():
    ratios = [on / off for off, on in map(early_gradients, SEEDS)]
    assert all(1 < ratio < 1.05 for ratio in ratios), ratios  # the notebook's stated threshold


def _calibration(epsilon, seed, train_set, test_loader):
    """The notebook's experiment: lenet5_modern, 256 shape images, 150 iterations."""
    run = train.controlled_run(partial(create, "lenet5_modern"), train_set, iterations=150,
                               batch_size=32, lr=0.02, seed=seed, progress=False,
                               loss_fn=nn.CrossEntropyLoss(label_smoothing=epsilon))
    return metrics.expected_calibration_error(*metrics.probabilities(run.model, test_loader))


def test_label_smoothing_lowers_the_calibration_error_in_most_seeds():
    to_tensor = data.standard_transforms("shapes", train=False)
    train_set = data.as_tensors(data.load("shapes", "train", transform=to_tensor, size=256))
    test_loader = torch.utils.data.DataLoader(
        data.as_tensors(data.load("shapes", "test", transform=to_tensor, size=500)),
        batch_size=500)
    pairs = [(_calibration(0.0, seed, train_set, test_loader),
              _calibration(0.2, seed, train_set, test_loader)) for seed in SEEDS]
    assert sum(smoothed < plain for plain, smoothed in pairs) >= 4, pairs


def test_ece_is_zero_when_confidence_matches_accuracy_and_the_gap_otherwise():
    # Four predictions at confidence 0.75, three right: calibrated.
    probs = torch.tensor([[0.75, 0.25]] * 4)
    assert metrics.expected_calibration_error(probs, torch.tensor([0, 0, 0, 1])) == pytest.approx(0)
    # Same confidence, all wrong: the gap is the whole 75 points.
    assert metrics.expected_calibration_error(probs, torch.ones(4, dtype=torch.long)) == \
        pytest.approx(75)
    # Two bins: 0.9 right (gap 10) and 0.65 wrong (gap 65), half the predictions each.
    mixed = torch.tensor([[0.9, 0.1], [0.35, 0.65]])
    assert metrics.expected_calibration_error(mixed, torch.tensor([0, 0])) == pytest.approx(37.5)
    bins = metrics.reliability_bins(mixed, torch.tensor([0, 0]))
    assert [b.count for b in bins] == [0, 0, 0, 0, 0, 0, 1, 0, 1, 0]
    assert bins[8].accuracy == 100 and bins[6].accuracy == 0
    assert metrics.mean_confidence(mixed) == pytest.approx(77.5)


def test_metrics_refuse_logits_and_mismatched_labels():
    with pytest.raises(ValueError, match="softmax"):
        metrics.reliability_bins(torch.tensor([[2.0, -1.0]]), torch.tensor([0]))
    with pytest.raises(ValueError, match="labels"):
        metrics.expected_calibration_error(torch.tensor([[0.5, 0.5]]), torch.tensor([0, 1]))


def test_probabilities_restore_the_mode_and_the_diagram_draws_every_model():
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3)).train()
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.randn(10, 4), torch.arange(10) % 3), batch_size=4)
    probs, labels = metrics.probabilities(net, loader)
    assert probs.shape == (10, 3) and torch.allclose(probs.sum(1), torch.ones(10))
    assert net.training and labels.tolist() == (torch.arange(10) % 3).tolist()
    fig = plots.reliability_diagram({"a": metrics.reliability_bins(probs, labels),
                                     "b": metrics.reliability_bins(probs, labels, bins=5)})
    assert len(fig.axes) == 2 and fig.axes[0].get_xlabel() == "confidence (%)"


def test_controlled_run_trains_with_the_loss_it_is_given():
    dataset = torch.utils.data.TensorDataset(torch.randn(16, 3, 8, 8), torch.arange(16) % 2)

    def make():
        return nn.Sequential(nn.Flatten(), nn.Linear(192, 2))

    plain = train.controlled_run(make, dataset, iterations=1, batch_size=8, lr=0.1,
                                 progress=False)
    smoothed = train.controlled_run(make, dataset, iterations=1, batch_size=8, lr=0.1,
                                    progress=False,
                                    loss_fn=nn.CrossEntropyLoss(label_smoothing=0.5))
    assert plain.errors == smoothed.errors and plain.losses != smoothed.losses


def test_training_sketch_shows_the_auxiliary_heads_and_eval_sketch_does_not():
    net = create("googlenet_cifar", aux_logits=True)

    def kinds(training):
        return [n.kind for n in sketch.trace(net, (3, 32, 32), training=training,
                                             collapse=(InceptionModule, AuxClassifier))]
    assert kinds(True).count("AuxClassifier") == 2 and "AuxClassifier" not in kinds(False)


def test_factorised_branch_is_the_inception_e_branch():
    module = InceptionModule(192, 64, 128, 32, 32, ch3x3red=96, ch5x5red=16,
                             large_branch="3x3+3x3")
    branch = factorised_branch(192, 16, 32)
    x = torch.randn(2, 192, 6, 6)
    assert sum(p.numel() for p in branch.parameters()) == \
        sum(p.numel() for p in module.branch3.parameters())
    branch.branch3.load_state_dict(module.branch3.state_dict())
    assert torch.equal(branch.eval()(x), module.branch3.eval()(x))
