import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from cnnlab import plots  # noqa: E402
from cnnlab.train import History, Run  # noqa: E402


def test_image_grid_undoes_normalisation_and_titles_each_image():
    image = torch.full((3, 4, 4), 0.25)
    normalised = (image - 0.5) / 0.25
    fig = plots.image_grid([normalised, Image.new("RGB", (4, 4), (255, 0, 0))], ["a", "b"],
                           mean=(0.5,) * 3, std=(0.25,) * 3, title="grid")
    first, second = fig.axes[:2]
    assert np.allclose(first.images[0].get_array(), 0.25)
    assert np.allclose(second.images[0].get_array()[..., 0], 1.0)
    assert [first.get_title(), second.get_title(), fig._suptitle.get_text()] == ["a", "b", "grid"]
    plt.close(fig)


def test_training_curves_draw_train_and_validation_in_percent():
    history = History(train_loss=[2.0, 1.0], train_acc=[30.0, 60.0], val_loss=[1.5, 1.2],
                      val_acc=[40.0, 50.0])
    fig = plots.training_curves({"net": history})
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.lines) == 2 and loss_ax.get_ylabel() == "cross-entropy loss"
    assert list(acc_ax.lines[1].get_ydata()) == [40.0, 50.0] and "%" in acc_ax.get_ylabel()
    plt.close(fig)


def test_confusion_matrix_rows_are_fractions_of_the_true_class():
    fig = plots.confusion_matrix(torch.tensor([[3, 1], [0, 0]]), ["x", "y"])
    shown = fig.axes[0].images[0].get_array()
    assert np.allclose(shown, [[0.75, 0.25], [0.0, 0.0]])
    assert fig.axes[0].get_xlabel() == "predicted class"
    plt.close(fig)


def test_bars_label_every_value():
    fig = plots.bars({"conv": 1000.0, "dsc": 120.0}, ylabel="MACs", title="cost", log=True)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and [t.get_text() for t in ax.texts] == ["1e+03", "120"]
    plt.close(fig)


def test_running_error_draws_one_line_per_run_and_the_target():
    runs = {name: Run(model=torch.nn.Identity(), losses=[0.0] * 4, errors=errors, seconds=0.0)
            for name, errors in [("relu", [100, 50, 50, 0]), ("tanh", [100, 100, 50, 50])]}
    fig = plots.running_error(runs, window=2, target_error=40)
    ax = fig.axes[0]
    relu, tanh, target = ax.lines
    assert list(relu.get_ydata()) == [100, 75, 50, 25] and list(tanh.get_xdata()) == [1, 2, 3, 4]
    assert list(target.get_ydata()) == [40, 40] and "last 2 batches" in ax.get_ylabel()
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["relu", "tanh",
                                                                        "40% target"]
    plt.close(fig)
