import pytest
import torch
from torch import nn

from cnnbook import datasets, train


def test_count_parameters_by_hand():
    assert train.count_parameters(nn.Linear(3, 2)) == 3 * 2 + 2
    assert train.count_parameters(nn.Conv2d(3, 64, 11)) == 64 * 3 * 11 * 11 + 64


def test_count_parameters_on_meta_device_allocates_nothing():
    huge = nn.Linear(224 * 224 * 3, 1000, device="meta")
    assert train.count_parameters(huge) == 150_528 * 1000 + 1000


def test_count_parameters_skips_frozen():
    layer = nn.Linear(4, 4)
    layer.bias.requires_grad_(False)
    assert train.count_parameters(layer) == 16


def test_model_shapes():
    x = torch.rand(5, 1, 24, 24)
    assert train.mlp((1, 24, 24))(x).shape == (5, 10)
    assert train.small_cnn()(x).shape == (5, 10)


def test_cnn_global_pooling_ignores_position_of_an_isolated_pattern():
    torch.manual_seed(0)
    cnn = train.small_cnn().eval()
    x = torch.zeros(1, 1, 24, 24)
    x[..., 8:12, 8:12] = 1.0  # away from the border, where zero padding differs
    moved = datasets.shift(x, 4, 6)  # an even shift keeps the 2x2 pooling grid aligned
    assert torch.allclose(cnn(x), cnn(moved), atol=1e-6)


def test_fit_learns_and_is_repeatable():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(200, 1, 6, 6, generator=generator)
    y = (x.mean(dim=(1, 2, 3)) > 0).long()
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = train.mlp((1, 6, 6), hidden=16, classes=2)
        history = train.fit(model, x, y, epochs=15, seed=0)
        runs.append((history, model))
    assert runs[0][0] == runs[1][0]
    assert runs[0][0][-1] < runs[0][0][0] / 2
    assert train.accuracy(runs[0][1], x, y) > 0.9
    assert not runs[0][1].training


def test_fit_rejects_mismatched_data():
    with pytest.raises(ValueError, match="x has 3 examples but y has 2 labels"):
        train.fit(train.mlp((1, 2, 2)), torch.rand(3, 1, 2, 2), torch.tensor([0, 1]))


def test_accuracy_restores_the_training_flag():
    model = train.mlp((1, 2, 2), classes=2).train()
    train.accuracy(model, torch.rand(4, 1, 2, 2), torch.zeros(4, dtype=torch.long))
    assert model.training


def test_accuracy_under_shift_averages_four_directions(monkeypatch):
    moves = []
    monkeypatch.setattr(train, "accuracy", lambda m, x, y: float(x.sum()))
    monkeypatch.setattr(datasets, "shift", lambda x, dx, dy: moves.append((dx, dy)) or x)
    x = torch.ones(1, 1, 3, 3)
    assert train.accuracy_under_shift(None, x, None, 2) == 9.0
    assert sorted(moves) == sorted([(2, 0), (-2, 0), (0, 2), (0, -2)])


def test_blocks_keep_the_shape_and_the_shortcut_adds_the_input():
    torch.manual_seed(0)
    block = train.ConvBlock(4, residual=True).eval()
    x = torch.randn(2, 4, 5, 5)
    assert block(x).shape == x.shape
    for conv in (block.conv1, block.conv2):
        nn.init.zeros_(conv.weight)
    with torch.no_grad():
        # with zero convolutions the residual branch is just its batch-norm biases (0): out = relu(x)
        assert torch.allclose(block(x), torch.relu(x))


def test_deep_cnn_counts_its_layers():
    net = train.deep_cnn(blocks=3, residual=False)
    weighted = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(weighted) == 2 * 3 + 2
    assert net(torch.zeros(2, 1, 16, 16)).shape == (2, 10)


def test_accuracy_counts_the_same_in_any_batch_size_and_builds_no_graph():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    x, y = torch.rand(50, 1, 3, 4), torch.randint(0, 3, (50,))
    expected = (model(x).argmax(1) == y).float().mean().item()
    assert train.accuracy(model, x, y, batch_size=7) == pytest.approx(expected)
    assert train.accuracy(model, x, y) == pytest.approx(expected)
    assert all(p.grad is None for p in model.parameters())
    with pytest.raises(ValueError, match="x has 50 images but y has 49 labels"):
        train.accuracy(model, x, y[:49])


def test_fit_leaves_the_model_in_eval_mode_without_gradients():
    for start_training in (True, False):
        model = train.mlp((1, 2, 2), classes=2).train(start_training)
        train.fit(model, torch.rand(4, 1, 2, 2), torch.tensor([0, 1, 0, 1]), epochs=1)
        assert not model.training and all(p.grad is None for p in model.parameters())


def test_fit_batches_trains_on_any_loss_and_stops_on_a_non_finite_one():
    torch.manual_seed(0)
    line = nn.Linear(1, 1)
    x = torch.linspace(-1, 1, 16)[:, None]
    history = train.fit_batches(line, 16, lambda b: ((line(x[b]) - (2 * x[b] + 1)) ** 2).mean(),
                                epochs=200, batch_size=4, lr=0.05, seed=0)
    assert history[-1] < 1e-3 < history[0]
    assert torch.allclose(line.weight, torch.tensor([[2.0]]), atol=0.05) and not line.training
    before = {k: v.clone() for k, v in line.state_dict().items()}
    with pytest.raises(FloatingPointError, match=r"epoch 1 \(is lr=0\.1 too large, or is the loss wrong\?\); "
                                                 r"the model keeps the weights it had before fit"):
        train.fit_batches(line.train(), 16, lambda b: line(x[b]).mean() / 0.0, epochs=1, batch_size=4, lr=0.1,
                          also_suspect="is the loss wrong")
    assert all(torch.equal(before[k], v) for k, v in line.state_dict().items()) and not line.training
