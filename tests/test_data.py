"""cnnlab.data: CIFAR through torchvision's real parser, the shapes sets, transforms, loaders."""

from __future__ import annotations

import re
import urllib.error

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torch import nn
from torchvision.datasets import cifar

from cnnlab import config, data
from tests.cifar_fixtures import skip_md5_checks, write_cifar10, write_cifar100

# --- CIFAR on disk ------------------------------------------------------------------------------


@pytest.mark.parametrize("name, writer", [("cifar10", write_cifar10), ("cifar100", write_cifar100)])
def test_cifar_round_trips_through_torchvision(tmp_path, monkeypatch, name, writer):
    mini = writer(tmp_path, n_train=120, n_test=30)
    skip_md5_checks(monkeypatch)
    train = data.load(name, "train", root=tmp_path)
    test = data.load(name, "test", root=tmp_path)
    assert train.classes == mini.classes
    np.testing.assert_array_equal(train.data, mini.train_images)
    np.testing.assert_array_equal(test.data, mini.test_images)
    assert train.targets == mini.train_labels and test.targets == mini.test_labels
    image, label = train[7]
    assert isinstance(image, Image.Image) and image.size == (32, 32)
    np.testing.assert_array_equal(np.asarray(image), mini.train_images[7])
    assert label == mini.train_labels[7]


def test_cifar_subset_is_balanced_and_repeatable(tmp_path, monkeypatch):
    mini = write_cifar10(tmp_path, n_train=100, n_test=10)
    skip_md5_checks(monkeypatch)
    size = 40
    first = data.load("cifar10", root=tmp_path, size=size)
    again = data.load("cifar10", root=tmp_path, size=size)
    assert len(first) == size
    np.testing.assert_array_equal(first.data, again.data)
    counts = np.bincount(first.targets, minlength=len(mini.classes))
    assert (counts == size // len(mini.classes)).all()
    # Every chosen image is one of the written ones, with its own label.
    written = {image.tobytes(): label for image, label in zip(mini.train_images, mini.train_labels,
                                                              strict=True)}
    assert [written[image.tobytes()] for image in first.data] == first.targets


@pytest.mark.parametrize("name, folder, archive", [
    ("cifar10", "cifar-10-batches-py", "cifar-10-python.tar.gz"),
    ("cifar100", "cifar-100-python", "cifar-100-python.tar.gz"),
])
def test_missing_cifar_says_where_and_how(tmp_path, name, folder, archive):
    with pytest.raises(data.DataNotFoundError) as caught:
        data.load(name, root=tmp_path)
    message = str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)
    assert str(tmp_path / folder) in message
    assert f"load({name!r}, download=True)" in message
    assert archive in message and "https://www.cs.toronto.edu/~kriz/cifar.html" in message
    assert "'shapes'" in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_failed_download_is_explained(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(cifar, "download_and_extract_archive", offline)
    with pytest.raises(data.DataNotFoundError) as caught:
        data.load("cifar10", root=tmp_path, download=True)
    message = str(caught.value)
    assert "Downloading CIFAR-10" in message and "no route to host" in message
    assert str(tmp_path) in message and "cifar-10-python.tar.gz" in message
    assert caught.value.__suppress_context__


@pytest.mark.parametrize("kwargs, error, fragment", [
    ({"name": "mnist"}, ValueError, "'shapes', 'cifar10', 'cifar100'"),
    ({"name": "shapes", "split": "val"}, ValueError, "'train', 'test'"),
    ({"name": "shapes", "size": 0}, ValueError, "size must be >= 1, got 0"),
    ({"name": "shapes", "size": 2.5}, TypeError, "size"),
    ({"name": "shapes", "split": "test", "size": 10_001}, ValueError, "10000 examples"),
])
def test_bad_arguments_are_named(kwargs, error, fragment):
    with pytest.raises(error, match=re.escape(fragment)):
        data.load(**kwargs)


# --- shapes -------------------------------------------------------------------------------------


def test_shapes_image_depends_only_on_its_index():
    some = data.Shapes("train", indices=np.array([3, 10, 11]))
    many = data.Shapes("train", indices=np.arange(12))
    np.testing.assert_array_equal(some.data, many.data[[3, 10, 11]])
    assert some.targets == [many.targets[i] for i in (3, 10, 11)]
    other_split = data.Shapes("test", indices=np.array([3]))
    assert not np.array_equal(other_split.data[0], some.data[0])


def test_shapes_is_balanced_varied_and_cifar_like():
    dataset = data.load("shapes", size=200)
    assert len(dataset.classes) == 10 and len(dataset) == 200
    counts = np.bincount(dataset.targets, minlength=len(dataset.classes))
    assert (counts == len(dataset) // len(dataset.classes)).all()
    assert dataset.data.shape == (200, 32, 32, 3) and dataset.data.dtype == np.uint8
    assert len({image.tobytes() for image in dataset.data}) == len(dataset)
    image, label = dataset[0]
    assert isinstance(image, Image.Image) and image.mode == "RGB" and label == dataset.targets[0]


def _as_tensors(split: str, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    dataset = data.load("shapes", split, size=size,
                        transform=data.standard_transforms("shapes", train=False))
    images, labels = zip(*dataset, strict=True)
    return torch.stack(images), torch.tensor(labels)


def test_shapes_is_learnable_by_a_tiny_cnn():
    torch.manual_seed(0)
    images, labels = _as_tensors("train", 1000)
    test_images, test_labels = _as_tensors("test", 300)
    net = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 8 * 8, 10),
    )
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
    for _ in range(3):
        for batch in torch.randperm(len(images)).split(32):
            optimizer.zero_grad()
            nn.functional.cross_entropy(net(images[batch]), labels[batch]).backward()
            optimizer.step()
    with torch.no_grad():
        accuracy = (net(test_images).argmax(1) == test_labels).float().mean().item()
    chance = 1 / len(data.Shapes.classes)
    assert accuracy > 2.5 * chance


def test_paired_shapes_pairs_a_flat_map_with_its_photo():
    pairs = data.PairedShapes("train")
    assert len(pairs) == 1096 and len(data.PairedShapes("test")) == 1098
    map_image, photo = pairs[5]
    assert map_image.shape == photo.shape == (3, 32, 32)
    for image in (map_image, photo):
        assert image.dtype == torch.float32 and image.min() >= -1 and image.max() <= 1
    palette = torch.from_numpy(data.PairedShapes.MAP_PALETTE) * 2 - 1
    labels = pairs.label_map(5)
    torch.testing.assert_close(map_image, palette[labels].permute(2, 0, 1))
    assert len(labels.unique()) > 1  # a scene, not a blank map
    # The photo is not a recolouring: pixels of one class vary within the photo.
    assert photo[:, labels == labels.flatten().bincount().argmax()].std(dim=1).max() > 0.01
    again_map, again_photo = data.PairedShapes("train")[5]
    assert torch.equal(again_map, map_image) and torch.equal(again_photo, photo)
    assert not torch.equal(pairs[6][1], photo)
    large_map, large_photo = data.PairedShapes("train", size=64, length=10)[5]
    assert large_map.shape == large_photo.shape == (3, 64, 64)
    with pytest.raises(ValueError, match="size"):
        data.PairedShapes(size=0)


# --- statistics and transforms ------------------------------------------------------------------


@pytest.fixture(scope="module")
def shapes_sample():
    return data.load("shapes", size=300)


def test_stats_are_the_pixel_mean_and_std(shapes_sample):
    pixels = shapes_sample.data.reshape(-1, 3) / 255
    mean, std = data.stats(shapes_sample)
    np.testing.assert_allclose(mean, pixels.mean(0), rtol=1e-9)
    np.testing.assert_allclose(std, pixels.std(0), rtol=1e-7)
    with pytest.raises(TypeError, match="`.data`"):
        data.stats([(torch.zeros(3, 32, 32), 0)])


def test_pca_lighting_stats_are_an_eigendecomposition(shapes_sample):
    eigval, eigvec = data.pca_lighting_stats(shapes_sample)
    covariance = np.cov(shapes_sample.data.reshape(-1, 3).T / 255, bias=True)
    torch.testing.assert_close(eigvec.T @ eigvec, torch.eye(3), atol=1e-5, rtol=0)
    rebuilt = eigvec @ torch.diag(eigval) @ eigvec.T
    torch.testing.assert_close(rebuilt.double(), torch.from_numpy(covariance), atol=1e-6, rtol=1e-4)
    assert (eigval[:-1] >= eigval[1:]).all() and (eigval > 0).all()


def test_pca_lighting_adds_one_colour_shift_per_image():
    eigval, eigvec = torch.tensor([0.2, 0.05, 0.01]), torch.linalg.qr(torch.randn(3, 3)).Q
    lighting = data.PCALighting(eigval, eigvec, alphastd=0.1)
    image = torch.rand(3, 8, 8)
    torch.manual_seed(1)
    shifted = lighting(image)
    torch.manual_seed(1)
    expected = eigvec @ (torch.randn(3) * 0.1 * eigval)
    torch.testing.assert_close(shifted - image, expected.view(3, 1, 1).expand(3, 8, 8))
    assert torch.equal(data.PCALighting(eigval, eigvec, alphastd=0)(image), image)
    with pytest.raises(ValueError, match="eigvec"):
        data.PCALighting(eigval, eigvec[:2])


def test_standard_transforms_normalise_and_augment(shapes_sample):
    test_transform = data.standard_transforms("shapes", train=False)
    batch = torch.stack([test_transform(Image.fromarray(image)) for image in shapes_sample.data])
    # Normalised with the statistics of 2,000 training images: near zero mean and unit std.
    assert batch.mean(dim=(0, 2, 3)).abs().max() < 0.1
    assert (batch.std(dim=(0, 2, 3)) - 1).abs().max() < 0.1
    image = shapes_sample[0][0]
    train_transform = data.standard_transforms("shapes", train=True)
    views = torch.stack([train_transform(image) for _ in range(20)])
    assert views.shape == (20, 3, 32, 32)
    assert len({view.numpy().tobytes() for view in views}) > 1
    assert torch.equal(test_transform(image), test_transform(image))
    assert data.mean_std("cifar10") == (data.CIFAR10_MEAN, data.CIFAR10_STD)
    assert data.mean_std("cifar100") == (data.CIFAR100_MEAN, data.CIFAR100_STD)


def test_ten_crop_predict_averages_the_crop_probabilities(shapes_sample):
    crop = 24
    transform = data.alexnet_transforms("shapes", train=False, crop=crop)
    images = torch.stack([transform(shapes_sample[i][0]) for i in range(4)])
    assert images.shape == (4, 10, 3, crop, crop)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 10))
    probabilities = data.ten_crop_predict(model, images)
    assert probabilities.shape == (4, 10)
    torch.testing.assert_close(probabilities.sum(1), torch.ones(4))
    torch.testing.assert_close(probabilities[2], model(images[2]).softmax(1).mean(0))
    with pytest.raises(ValueError, match="images"):
        data.ten_crop_predict(model, images[0])
    train_transform = data.alexnet_transforms("shapes", train=True, crop=crop)
    assert train_transform(shapes_sample[0][0]).shape == (3, crop, crop)


# --- loaders ------------------------------------------------------------------------------------


def test_loaders_follow_the_profile_and_shuffle_reproducibly(monkeypatch):
    monkeypatch.setenv("CNNLAB_PROFILE", "smoke")
    train, test = data.loaders("shapes", train_size=96, test_size=40)
    assert train.batch_size == test.batch_size == config.profile().batch_size
    assert len(train.dataset) == 96 and len(test.dataset) == 40
    images, labels = next(iter(test))
    assert images.shape == (40, 3, 32, 32) and labels.dtype == torch.int64

    def first_labels(seed):
        loader, _ = data.loaders("shapes", batch_size=16, train_size=96, test_size=10, seed=seed)
        return next(iter(loader))[1]

    assert torch.equal(first_labels(0), first_labels(0))
    assert not torch.equal(first_labels(0), first_labels(1))


def test_loaders_read_cifar_from_root(tmp_path, monkeypatch):
    write_cifar10(tmp_path, n_train=60, n_test=20)
    skip_md5_checks(monkeypatch)
    train, test = data.loaders("cifar10", root=tmp_path, batch_size=8, train_size=30,
                               test_size=20)
    images, _ = next(iter(train))
    assert images.shape == (8, 3, 32, 32) and len(test.dataset) == 20


def test_pca_lighting_is_what_PCALighting_adds_for_the_same_draw():
    g = torch.Generator().manual_seed(0)
    image = torch.rand(3, 5, 6, generator=g)
    eigval = torch.tensor([0.3, 0.05, 0.01])
    eigvec = torch.linalg.qr(torch.randn(3, 3, generator=g)).Q
    torch.manual_seed(7)
    alpha = torch.randn(3) * 0.1
    torch.manual_seed(7)
    expected = data.PCALighting(eigval, eigvec, alphastd=0.1)(image)
    torch.testing.assert_close(data.pca_lighting(image, eigval, eigvec, alpha), expected)
    shift = data.pca_lighting(image, eigval, eigvec, alpha) - image
    torch.testing.assert_close(shift, shift[:, :1, :1].expand_as(shift))  # one offset per image
    with pytest.raises(ValueError, match="3 x H x W"):
        data.pca_lighting(torch.zeros(4, 2, 2), eigval, eigvec, alpha)
    with pytest.raises(ValueError, match="eigvec"):
        data.pca_lighting(image, eigval, eigvec[:2], alpha)


def test_transformed_applies_its_transform_on_every_access():
    raw = data.load("shapes", "test", size=4)
    flipped = data.Transformed(raw, torchvision.transforms.RandomHorizontalFlip(p=1.0))
    image, label = flipped[2]
    assert len(flipped) == 4 and label == raw.targets[2]
    assert image.tobytes() == raw[2][0].transpose(Image.Transpose.FLIP_LEFT_RIGHT).tobytes()
    to_tensor = data.as_tensors(data.Transformed(raw, torchvision.transforms.ToTensor()))
    assert to_tensor.tensors[0].shape == (4, 3, 32, 32)
    with pytest.raises(TypeError, match="transform"):
        data.Transformed(raw, "flip")
