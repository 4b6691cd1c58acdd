"""Chapter 8, "What does a CNN learn?": train.digits_cnn, the answers to the chapter's exercises,
and the claims its prose makes about the digits network."""

import pytest
import torch
from torch import nn

from cnnbook import datasets, features, maximize, train


def shapes_of(model, input_shape):
    """Output shape (without the batch axis) of every child of a Sequential, by name."""
    shapes = {}
    handles = [module.register_forward_hook(lambda m, i, out, name=name: shapes.update({name: tuple(out.shape[1:])}))
               for name, module in model.named_children()]
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    finally:
        for handle in handles:
            handle.remove()
    return shapes


# --- train.digits_cnn -------------------------------------------------------------------------


def test_digits_cnn_layers_are_named_as_the_chapter_says():
    cnn = train.digits_cnn()
    kinds = [type(m) for m in cnn]
    assert kinds == [nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.Flatten,
                     nn.Linear, nn.ReLU, nn.Linear]
    assert cnn(torch.rand(3, 1, 28, 28)).shape == (3, 10)


@pytest.mark.parametrize("in_shape", [(1, 10, 10), (3, 32, 20), (1, 26, 26), (2, 29, 31)])
def test_digits_cnn_fits_its_dense_head_to_any_input_size(in_shape):
    cnn = train.digits_cnn(in_shape=in_shape, widths=(4, 6), hidden=7, classes=3)
    assert cnn(torch.rand(2, *in_shape)).shape == (2, 3)


def test_a_class_score_has_a_gradient_at_nearly_every_pixel_on_26x26():
    """The chapter: every pixel can change the class score (the dense head weighs every position)."""
    torch.manual_seed(0)
    cnn = train.digits_cnn(in_shape=(1, 26, 26)).eval()
    x = (torch.rand(1, 1, 26, 26) * 0.2 + 0.4).requires_grad_(True)
    cnn(x)[0, 3].backward(inputs=[x])
    assert (x.grad != 0).float().mean() > 0.95


# --- exercise 1: shapes and parameters on 26x26 -------------------------------------------------


def test_exercise_1_shapes_and_parameters():
    cnn = train.digits_cnn(in_shape=(1, 26, 26))
    shapes = shapes_of(cnn, (1, 26, 26))
    assert shapes["0"] == (25, 24, 24)
    assert shapes["2"] == (25, 12, 12)
    assert shapes["3"] == (50, 10, 10)
    assert shapes["5"] == (50, 5, 5)
    assert shapes["6"] == (1250,)
    assert shapes["7"] == (100,)
    assert shapes["9"] == (10,)
    per_layer = {name: train.count_parameters(module) for name, module in cnn.named_children()}
    assert per_layer == {"0": 250, "1": 0, "2": 0, "3": 11_300, "4": 0, "5": 0, "6": 0,
                         "7": 125_100, "8": 0, "9": 1_010}
    assert train.count_parameters(cnn) == 137_660
    assert round(125_100 / 137_660, 2) == 0.91


# --- exercise 2: the lecture's 28x28 input loses its last two rows and columns ------------------


def test_exercise_2_the_last_two_rows_and_columns_of_28x28_never_matter():
    cnn = train.digits_cnn()  # 28x28, the lecture's MNIST size
    shapes = shapes_of(cnn, (1, 28, 28))
    assert [shapes[n][-1] for n in ("0", "2", "3", "5")] == [26, 13, 11, 5]
    assert shapes["6"] == (1250,)
    assert train.count_parameters(cnn) == 137_660  # the same as on 26x26
    # whatever the weights: change only the last two rows and columns, the output stays the same
    torch.manual_seed(0)
    x = torch.rand(4, 1, 28, 28)
    changed = x.clone()
    changed[..., 26:, :] = torch.rand(4, 1, 2, 28)
    changed[..., :, 26:] = torch.rand(4, 1, 28, 2)
    with torch.no_grad():
        assert torch.equal(cnn(x), cnn(changed))
    # and the gradient of every output is exactly zero there, non-zero somewhere else
    x = x[:1].clone().requires_grad_(True)
    cnn(x).sum().backward(inputs=[x])
    dead = torch.zeros(28, 28, dtype=torch.bool)
    dead[26:, :] = dead[:, 26:] = True
    assert (x.grad[0, 0][dead] == 0).all()
    assert (x.grad[0, 0][~dead] != 0).any()
    assert int(dead.sum()) == 28**2 - 26**2 == 108
    assert round(108 / 784, 3) == 0.138


def test_receptive_field_of_the_second_convolution_is_8_pixels_with_jump_2():
    """Used by exercise 2 and by the chapter's boxes: position i of layer "3" sees rows 2i to 2i+7."""
    cnn = train.digits_cnn(in_shape=(1, 26, 26))
    field = {row.name: row for row in features.receptive_fields(cnn)}["3"]
    assert (field.size, field.jump) == (8, 2)
    kept = {}
    cnn[3].register_forward_hook(lambda m, i, out: kept.update(out=out))
    torch.manual_seed(0)
    x = torch.rand(1, 1, 26, 26, requires_grad=True)
    cnn(x)
    i, j = 3, 6
    kept["out"][0, :, i, j].sum().backward(inputs=[x])
    rows, cols = (x.grad[0, 0] != 0).nonzero(as_tuple=True)
    assert rows.min() >= 2 * i and rows.max() <= 2 * i + 7
    assert cols.min() >= 2 * j and cols.max() <= 2 * j + 7


# --- exercise 3: the first layer's a^k is linear in the image ------------------------------------


def test_exercise_3_gradient_of_a_first_layer_filter_is_a_constant_sum_of_weights():
    torch.manual_seed(0)
    cnn = train.digits_cnn(in_shape=(1, 26, 26))
    k = 4
    w = cnn[0].weight[k, 0].detach()
    grads = []
    for _ in range(2):  # two different images: the same gradient
        x = torch.rand(1, 1, 26, 26, requires_grad=True)
        cnn[0](x)[0, k].sum().backward(inputs=[x])
        grads.append(x.grad[0, 0])
    assert torch.allclose(grads[0], grads[1])
    g = grads[0]
    assert torch.allclose(g[2:24, 2:24], torch.full((22, 22), w.sum().item()), atol=1e-6)
    assert torch.isclose(g[0, 0], w[0, 0])
    assert torch.isclose(g[0, 1], w[0, 0] + w[0, 1])
    assert torch.isclose(g[25, 25], w[2, 2])


def test_exercise_3_the_maximising_image_is_uniform_inside():
    """The chapter's maximise_filters, as written there (from random noise), on layer "0": every
    interior pixel goes to ink when the nine weights sum to a positive number, to paper when
    negative; and an image of the batch is the one the same ascent gives for its filter alone."""
    torch.manual_seed(0)
    cnn = train.digits_cnn(in_shape=(1, 26, 26)).eval()

    def maximise_filters(model, layer, ks, steps=100, lr=0.1, seed=0):
        kept = {}
        hook = model[layer].register_forward_hook(lambda module, inputs, output: kept.update(maps=output))
        noise = torch.Generator().manual_seed(seed)
        free = torch.randn(1, 1, 26, 26, generator=noise).repeat(len(ks), 1, 1, 1)
        free.requires_grad_(True)
        optimiser = torch.optim.Adam([free], lr=lr)
        try:
            for _ in range(steps):
                model(torch.sigmoid(free))
                maps = kept["maps"][torch.arange(len(ks)), list(ks)]
                a = maps.sum(dim=(1, 2))
                optimiser.zero_grad()
                (-a.sum()).backward(inputs=[free])
                optimiser.step()
        finally:
            hook.remove()
        return torch.sigmoid(free).detach()

    images = maximise_filters(cnn, 0, range(6))
    for k, image in enumerate(images):
        total = cnn[0].weight[k].sum().item()
        interior = image[0, 2:24, 2:24]
        if total > 0:
            assert (interior > 0.95).all()
        else:
            assert (interior < 0.05).all()
    # on layer "4" (after the second convolution, as the chapter uses it) the gradient depends on
    # the image, so an image of the batch that were pulled by another's filter would show here
    batch = maximise_filters(cnn, 4, [0, 7, 11], steps=20)
    alone = maximise_filters(cnn, 4, [7], steps=20)[0]
    assert torch.allclose(alone, batch[1], atol=1e-5) and not torch.allclose(batch[0], batch[1], atol=1e-3)
    assert all(p.grad is None for p in cnn.parameters())


# --- exercise 4: a linear score, L1 and the [0, 1] bound ------------------------------------------


W4 = torch.tensor([0.3, -0.2, 0.05, 0.8])


def linear_model():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 1))
    with torch.no_grad():
        model[1].weight.copy_(W4[None])
        model[1].bias.zero_()
    return model


def test_exercise_4a_the_gradient_is_w():
    x = torch.rand(1, 1, 2, 2, requires_grad=True)
    linear_model()(x).sum().backward(inputs=[x])
    assert torch.allclose(x.grad.flatten(), W4)


def test_exercise_4b_the_l1_maximum_in_the_box():
    corners = torch.cartesian_prod(*[torch.tensor([0.0, 1.0])] * 4)
    objective = corners @ W4 - 0.1 * corners.abs().sum(dim=1)
    assert corners[objective.argmax()].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert objective.max().item() == pytest.approx(0.9)
    # gradient ascent, as the chapter runs it, finds the same image (in both of its bounds)
    for bound in ("clamp", "sigmoid"):
        result = maximize.activation_maximization(linear_model(), (1, 2, 2), kind="class", unit=0,
                                                 l1=0.1, steps=400, lr=0.05, bound=bound)
        assert torch.allclose(result.image.flatten(), torch.tensor([1.0, 0.0, 0.0, 1.0]), atol=0.02)
        assert result.history[-1] == pytest.approx(0.9, abs=0.02)


def test_exercise_4c_without_the_bound_the_objective_grows_without_limit():
    x = torch.zeros(4, requires_grad=True)
    optimiser = torch.optim.SGD([x], lr=1.0)
    values = []
    for _ in range(300):
        objective = W4 @ x - 0.1 * x.abs().sum()
        optimiser.zero_grad()
        (-objective).backward()
        optimiser.step()
        values.append(objective.item())
    # x1 and x4 grow, and x2 runs off below 0: -0.2 x2 - 0.1 |x2| = 0.1 |x2| for x2 < 0
    assert x[0] > 50 and x[3] > 50 and x[1] < -20
    assert values[-1] > 100 and values[-1] > values[-100] + 40  # and no end in sight


# --- the chapter's network: what the page does not compute ------------------------------------
# (the claims about the values the page glues are checked on the built page, tests/test_book.py)


@pytest.fixture(scope="module")
def chapter():
    """The digits network exactly as chapter 8 trains it."""
    data = datasets.digits(size=20, canvas=26)
    torch.manual_seed(0)
    cnn = train.digits_cnn(in_shape=(1, 26, 26))
    train.fit(cnn, data.train_x, data.train_y, epochs=10, seed=0)
    return data, cnn


def test_unbounded_ascent_runs_off_beyond_the_pixel_range(chapter):
    """The chapter's second reason for the bound: without it, the score grows and so do the pixels."""
    _, cnn = chapter
    x = torch.full((1, 1, 26, 26), 0.5, requires_grad=True)
    optimiser = torch.optim.Adam([x], lr=0.1)
    scores = []
    for _ in range(300):
        score = cnn(x)[0, 3]
        optimiser.zero_grad()
        (-score).backward(inputs=[x])
        optimiser.step()
        scores.append(score.item())
    assert x.detach().abs().max() > 5
    assert scores[-1] > scores[-100] + 10 and scores[-1] > 5 * abs(scores[0])
