"""cnnlab.experiments: controlled runs, the small models, PCA lighting and the photo demo."""

import functools

import matplotlib
import pytest
import torch
import torchvision
from PIL import Image
from torch.utils.data import TensorDataset
from torchvision.transforms import functional as TF

from cnnlab import data, experiments
from cnnlab.models.vgg import VGGBlock

matplotlib.use("Agg")

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"  # torchvision's file name for AlexNet's ImageNet weights


def blobs(n: int, seed: int, side: int = 12) -> TensorDataset:
    """Images whose class (of 3) is which colour channel is brighter: easy to learn."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    images = 0.3 * torch.randn(n, 3, side, side, generator=g)
    images[torch.arange(n), labels] += 1.0
    return TensorDataset(images, labels)


def tiny(**options):
    return experiments.small_cnn(widths=(4, 8), hidden=8, image_size=12, num_classes=3, **options)


def test_overlapping_and_traditional_pooling_keep_sizes_and_parameters():
    counts = set()
    for kernel in (2, 3):
        net = experiments.small_cnn(pool_kernel=kernel, image_size=28)
        assert net(torch.zeros(2, 3, 28, 28)).shape == (2, 10)
        counts.add(sum(p.numel() for p in net.parameters()))
    assert len(counts) == 1
    assert isinstance(tiny(activation="tanh")[1], torch.nn.Tanh)
    with pytest.raises(ValueError, match="activation"):
        experiments.small_cnn(activation="sigmoid")
    with pytest.raises(ValueError, match="dropout"):
        experiments.small_cnn(dropout=1.0)
    with pytest.raises(ValueError, match="hidden"):
        experiments.small_cnn(hidden=0)


def test_train_run_learns_and_is_reproducible():
    train_set = blobs(96, seed=0)
    settings = {"iterations": 30, "batch_size": 16, "lr": 0.05, "device": "cpu",
                "progress": False}
    first = experiments.train_run(tiny, train_set, **settings)
    again = experiments.train_run(tiny, train_set, **settings)
    assert len(first.errors) == len(first.losses) == 30  # 30 batches: several epochs of 6
    assert first.errors == again.errors and first.losses == again.losses
    assert first.running_error(10)[-1] < first.running_error(10)[9]
    assert experiments.accuracy(first.model, blobs(60, seed=1)) > 100 / 3
    other_seed = experiments.train_run(tiny, train_set, **{**settings, "seed": 1})
    assert other_seed.losses != first.losses


def test_train_run_starts_variants_from_the_same_weights():
    train_set = blobs(32, seed=0)
    relu, tanh = (experiments.train_run(functools.partial(tiny, activation=a), train_set,
                                        iterations=1, batch_size=32, lr=1e-9, momentum=0,
                                        device="cpu", progress=False) for a in ("relu", "tanh"))
    for a, b in zip(relu.model.parameters(), tanh.model.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_train_run_rejects_bad_arguments():
    with pytest.raises(TypeError, match="make_model"):
        experiments.train_run(tiny(), blobs(8, 0), iterations=1, batch_size=4, lr=0.1)
    with pytest.raises(ValueError, match="batch_size"):
        experiments.train_run(tiny, blobs(8, 0), iterations=1, batch_size=16, lr=0.1)
    with pytest.raises(ValueError, match="iterations"):
        experiments.train_run(tiny, blobs(8, 0), iterations=0, batch_size=4, lr=0.1)


def test_running_error_and_iterations_to_a_target():
    run = experiments.Run(model=torch.nn.Identity(), losses=[0.0] * 6,
                          errors=[100, 80, 60, 40, 20, 0], seconds=0.0)
    assert run.running_error(2) == [100, 90, 70, 50, 30, 10]
    assert run.iterations_to(50, window=2) == 4
    assert run.iterations_to(100, window=3) == 3  # never before a full window
    assert run.iterations_to(5, window=2) is None
    with pytest.raises(ValueError, match="target_error"):
        run.iterations_to(150, window=2)


def test_accuracy_averages_ten_crops_as_ten_crop_predict_does():
    torch.manual_seed(0)
    model = tiny()
    crops = torch.randn(7, 10, 3, 12, 12)
    labels = torch.arange(7) % 3
    expected = (data.ten_crop_predict(model.eval(), crops).argmax(1) == labels).double().mean()
    assert experiments.accuracy(model, TensorDataset(crops, labels)) == pytest.approx(
        100 * expected.item())
    single = crops[:, 0]
    expected = (model(single).argmax(1) == labels).double().mean()
    assert experiments.accuracy(model.train(), TensorDataset(single, labels)) == pytest.approx(
        100 * expected.item())
    assert model.training


def test_ten_crop_on_tensors_scores_as_alexnets_test_transform_does():
    torch.manual_seed(0)
    # A linear model's prediction moves with every pixel, so any crop out of place would show.
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 28 * 28, 10))
    cropped = data.load("shapes", "test", size=60,
                        transform=data.alexnet_transforms("shapes", train=False))
    whole = data.load("shapes", "test", size=60,
                      transform=data.standard_transforms("shapes", train=False))
    images = experiments.as_tensors(whole)
    assert torch.equal(images.tensors[0][5], whole[5][0])
    assert images.tensors[1].tolist() == whole.targets
    crops = torch.stack([x for x, _ in cropped])
    torch.testing.assert_close(
        torch.stack(TF.ten_crop(images.tensors[0], [28, 28]), dim=1), crops)
    expected = experiments.accuracy(model, cropped)
    assert experiments.accuracy(model, images, ten_crop=28, batch_size=7) == expected
    with pytest.raises(ValueError, match="ten_crop"):
        experiments.accuracy(model, cropped, ten_crop=28)
    with pytest.raises(TypeError, match="ToTensor"):
        experiments.as_tensors(data.load("shapes", "test", size=2))


def test_transformed_applies_its_transform_on_every_access():
    raw = data.load("shapes", "test", size=4)
    flipped = experiments.Transformed(raw, torchvision.transforms.RandomHorizontalFlip(p=1.0))
    image, label = flipped[2]
    assert len(flipped) == 4 and label == raw.targets[2]
    assert image.tobytes() == raw[2][0].transpose(Image.Transpose.FLIP_LEFT_RIGHT).tobytes()
    to_tensor = experiments.as_tensors(experiments.Transformed(
        raw, torchvision.transforms.ToTensor()))
    assert to_tensor.tensors[0].shape == (4, 3, 32, 32)
    with pytest.raises(TypeError, match="transform"):
        experiments.Transformed(raw, "flip")


@pytest.mark.parametrize("num_convs", [1, 3])
def test_vgg_block_keeps_the_side_through_convolutions_and_halves_it_once(num_convs):
    block = VGGBlock(3, 8, num_convs)
    assert block(torch.randn(2, 3, 10, 7)).shape == (2, 8, 5, 3)
    convs = [m for m in block.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == num_convs
    assert sum(p.numel() for p in block.parameters()) == (
        8 * (3 * 9 + 1) + (num_convs - 1) * 8 * (8 * 9 + 1))
    with pytest.raises(ValueError, match="num_convs"):
        VGGBlock(3, 8, 0)


def test_photos_are_the_sample_photograph_plus_the_learners_own(tmp_path):
    only_sample = experiments.photos_to_classify(tmp_path / "missing")
    assert list(only_sample) == ["grace_hopper.jpg"]
    assert only_sample["grace_hopper.jpg"].mode == "RGB"
    Image.new("RGB", (40, 30), "red").save(tmp_path / "mine.png")
    (tmp_path / "notes.txt").write_text("not a photo")
    photos = experiments.photos_to_classify(tmp_path)
    assert sorted(photos) == ["grace_hopper.jpg", "mine.png"]


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "data"


def test_without_weights_classify_photos_says_where_to_put_them(no_weights, capsys):
    photos = experiments.photos_to_classify(no_weights / "photos")
    assert experiments.classify_photos(photos) is None
    said = capsys.readouterr().out
    assert ALEXNET_FILE in said and "data/weights/" in said


def test_with_weights_the_same_call_classifies_and_shows(no_weights):
    (no_weights / "weights").mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(),
               no_weights / "weights" / ALEXNET_FILE)
    photos = {"sample": experiments.photos_to_classify(no_weights)["grace_hopper.jpg"],
              "red": Image.new("RGB", (64, 48), "red")}
    predictions = experiments.classify_photos(photos, topk=3)
    assert list(predictions) == ["sample", "red"]
    categories = torchvision.models.AlexNet_Weights.IMAGENET1K_V1.meta["categories"]
    for top in predictions.values():
        labels, probabilities = zip(*top, strict=True)
        assert len(labels) == 3 and set(labels) <= set(categories)
        assert list(probabilities) == sorted(probabilities, reverse=True)
    figure = experiments.show_predictions(photos, predictions)
    assert len(figure.axes) == 4
    with pytest.raises(ValueError, match="predictions"):
        experiments.show_predictions(photos, {})
