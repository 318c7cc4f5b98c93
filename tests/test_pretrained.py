"""cnnlab.pretrained with a weights file the tests write: torchvision's format, random values;
and the photo demo, with and without weights."""

import matplotlib
import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from cnnlab import pretrained

matplotlib.use("Agg")

ALEXNET_WEIGHTS = torchvision.models.AlexNet_Weights.IMAGENET1K_V1
ALEXNET_FILE = "alexnet-owt-7be5be79.pth"  # the basename of torchvision's download URL


@pytest.fixture(scope="module")
def reference():
    torch.manual_seed(0)
    return torchvision.models.alexnet(weights=None).eval()


@pytest.fixture(scope="module")
def data_root(tmp_path_factory, reference):
    """A CNNLAB_DATA folder holding weights/<torchvision's file name>."""
    root = tmp_path_factory.mktemp("data")
    (root / "weights").mkdir()
    torch.save(reference.state_dict(), root / "weights" / ALEXNET_FILE)
    return root


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """Empty data folder and torch hub cache, so no real weights on this machine can be found."""
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path


def random_photo(seed: int, size=(300, 200), mode="RGB") -> Image.Image:
    """Noise as an image of ``mode`` "RGB", "RGBA" or "L" (grayscale)."""
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], len(mode))
    image = Image.fromarray(np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8))
    assert image.mode == mode
    return image


def test_file_name_comes_from_torchvision():
    assert pretrained.weights_file_name("alexnet") == ALEXNET_FILE
    assert pretrained.weights_file_name("vgg16") == "vgg16-397923af.pth"


def test_classify_gives_top5_imagenet_names_and_the_forward_pass_probabilities(
    nowhere, data_root, reference, monkeypatch
):
    monkeypatch.setenv("CNNLAB_DATA", str(data_root))
    model = pretrained.load_pretrained("alexnet")
    photo = random_photo(0)

    [top5] = pretrained.classify(model, photo)

    with torch.no_grad():
        expected = reference(ALEXNET_WEIGHTS.transforms()(photo)[None]).softmax(dim=1)[0].topk(5)
    labels, probabilities = zip(*top5, strict=True)
    categories = ALEXNET_WEIGHTS.meta["categories"]
    assert labels == tuple(categories[i] for i in expected.indices)
    torch.testing.assert_close(torch.tensor(probabilities), expected.values)
    assert not model.training


def test_weights_path_file_or_folder_and_paths_as_images(data_root, nowhere, reference):
    by_file = pretrained.load_pretrained("alexnet", weights_path=data_root / "weights" / ALEXNET_FILE)
    by_folder = pretrained.load_pretrained("alexnet", weights_path=data_root / "weights")
    for key, value in reference.state_dict().items():
        assert torch.equal(by_file.state_dict()[key], value)
        assert torch.equal(by_folder.state_dict()[key], value)

    photo = random_photo(1)
    png = nowhere / "photo.png"
    photo.convert("RGBA").save(png)  # an alpha channel, which classify must drop
    from_path, from_image = pretrained.classify(by_file, [png, photo], topk=3)
    assert len(from_path) == 3
    assert [label for label, _ in from_path] == [label for label, _ in from_image]
    assert [p for _, p in from_path] == pytest.approx([p for _, p in from_image])


def test_torch_hub_cache_is_searched(nowhere, data_root):
    checkpoints = nowhere / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / ALEXNET_FILE).symlink_to(data_root / "weights" / ALEXNET_FILE)
    assert pretrained.find_weights("alexnet") == checkpoints / ALEXNET_FILE


@pytest.mark.parametrize("name", ["alexnet", "vgg16"])
def test_missing_weights_say_where_to_put_them_and_how_to_get_them(nowhere, name):
    file_name = pretrained.weights_file_name(name)
    with pytest.raises(pretrained.WeightsNotFoundError) as caught:
        pretrained.load_pretrained(name)
    message = str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)
    assert str(nowhere / "data" / "weights" / file_name) in message
    assert str(nowhere / "torch" / "hub" / "checkpoints" / file_name) in message
    assert f"torchvision.models.{name}(weights='IMAGENET1K_V1')" in message
    assert f"https://download.pytorch.org/models/{file_name}" in message


def test_missing_weights_path_is_named(nowhere):
    with pytest.raises(pretrained.WeightsNotFoundError, match="elsewhere.pth"):
        pretrained.load_pretrained("alexnet", weights_path=nowhere / "elsewhere.pth")


def test_a_file_with_other_weights_is_refused(nowhere):
    wrong = nowhere / ALEXNET_FILE
    torch.save({"features.0.weight": torch.zeros(1)}, wrong)
    with pytest.raises(ValueError, match="does not hold torchvision's alexnet weights"):
        pretrained.load_pretrained("alexnet", weights_path=wrong)


def test_unknown_name_lists_the_supported_ones():
    with pytest.raises(ValueError, match="alexnet, vgg16"):
        pretrained.load_pretrained("resnet50")


def test_classify_refuses_bad_arguments(data_root, nowhere):
    model = pretrained.load_pretrained("alexnet", weights_path=data_root / "weights")
    with pytest.raises(ValueError, match="topk"):
        pretrained.classify(model, random_photo(0), topk=0)
    with pytest.raises(TypeError, match="PIL images"):
        pretrained.classify(model, [np.zeros((8, 8, 3))])
    with pytest.raises(ValueError, match="empty"):
        pretrained.classify(model, [])
    with pytest.raises(TypeError, match="weight entry"):
        pretrained.classify(torchvision.models.alexnet(weights=None), random_photo(0))


def test_load_photos_reads_jpeg_and_png_upright(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the camera was turned 90 degrees
    random_photo(2, size=(40, 20)).save(tmp_path / "b_turned.jpg", exif=exif)
    random_photo(3, size=(16, 16), mode="L").save(tmp_path / "a_gray.PNG")
    (tmp_path / "notes.txt").write_text("not a photo")

    photos = pretrained.load_photos(tmp_path)

    assert list(photos) == ["a_gray.PNG", "b_turned.jpg"]
    assert all(photo.mode == "RGB" for photo in photos.values())
    assert photos["b_turned.jpg"].size == (20, 40)


def test_load_photos_explains_a_bad_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        pretrained.load_photos(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no photos"):
        pretrained.load_photos(tmp_path)


# --- the photo demo ----------------------------------------------------------------------------


def test_photos_are_the_sample_photograph_plus_the_learners_own(tmp_path):
    only_sample = pretrained.photos_to_classify(tmp_path / "missing")
    assert list(only_sample) == ["grace_hopper.jpg"]
    assert only_sample["grace_hopper.jpg"].mode == "RGB"
    Image.new("RGB", (40, 30), "red").save(tmp_path / "mine.png")
    (tmp_path / "notes.txt").write_text("not a photo")
    photos = pretrained.photos_to_classify(tmp_path)
    assert sorted(photos) == ["grace_hopper.jpg", "mine.png"]


def test_without_weights_classify_photos_says_where_to_put_them(nowhere, capsys):
    photos = pretrained.photos_to_classify(nowhere / "data" / "photos")
    assert pretrained.classify_photos(photos) is None
    said = capsys.readouterr().out
    assert ALEXNET_FILE in said and "data/weights/" in said


def test_with_weights_the_same_call_classifies_and_shows(nowhere):
    (nowhere / "data" / "weights").mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(),
               nowhere / "data" / "weights" / ALEXNET_FILE)
    photos = {"sample": pretrained.photos_to_classify(nowhere / "data")["grace_hopper.jpg"],
              "red": Image.new("RGB", (64, 48), "red")}
    predictions = pretrained.classify_photos(photos, topk=3)
    assert list(predictions) == ["sample", "red"]
    categories = ALEXNET_WEIGHTS.meta["categories"]
    for top in predictions.values():
        labels, probabilities = zip(*top, strict=True)
        assert len(labels) == 3 and set(labels) <= set(categories)
        assert list(probabilities) == sorted(probabilities, reverse=True)
    figure = pretrained.show_predictions(photos, predictions)
    assert len(figure.axes) == 4
    with pytest.raises(ValueError, match="predictions"):
        pretrained.show_predictions(photos, {})
