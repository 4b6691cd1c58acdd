import numpy as np
import pytest
import torch

from cnnbook.datasets import SHAPES, digits, shapes, shapes_scene, shift


def test_digits_are_real_upsampled_and_centred():
    data = digits(size=16, canvas=24)
    assert data.train_x.shape[1:] == (1, 24, 24)
    assert len(data.train_x) + len(data.test_x) == 1797
    assert len(data.test_x) == pytest.approx(1797 / 3, abs=1)
    assert 0.0 <= data.train_x.min() and data.train_x.max() <= 1.0
    # the 4-pixel margin is empty, the centre is not
    assert data.train_x[..., :4, :].abs().sum() == 0 and data.train_x[..., -4:].abs().sum() == 0
    assert data.train_x[..., 4:20, 4:20].sum() > 0
    assert set(data.test_y.tolist()) == set(range(10))


def test_digits_split_is_fixed_by_the_seed():
    a, b, c = digits(seed=0), digits(seed=0), digits(seed=1)
    assert torch.equal(a.test_x, b.test_x) and torch.equal(a.test_y, b.test_y)
    assert not torch.equal(a.test_x, c.test_x)


def test_digits_reject_a_canvas_smaller_than_the_digit():
    with pytest.raises(ValueError, match="size=16, canvas=12"):
        digits(size=16, canvas=12)


def test_shift_moves_content_and_fills_with_zeros():
    image = torch.arange(1, 26, dtype=torch.float32).reshape(1, 1, 5, 5)
    moved = shift(image, 2, 1)
    assert torch.equal(moved[..., 1:, 2:], image[..., :4, :3])
    assert moved[..., 0, :].abs().sum() == 0 and moved[..., :, :2].abs().sum() == 0
    back = shift(moved, -2, -1)
    assert torch.equal(back[..., :4, :3], image[..., :4, :3])


def test_shift_by_zero_is_identity_and_too_far_is_an_error():
    image = torch.rand(2, 1, 6, 6)
    assert torch.equal(shift(image, 0, 0), image)
    with pytest.raises(ValueError, match="out of view"):
        shift(image, 6, 0)


def test_scene_ground_truth_is_consistent():
    scene = shapes_scene(size=96, n_objects=3, seed=4)
    assert scene.image.shape == (96, 96, 3) and 0 <= scene.image.min() and scene.image.max() <= 1
    assert len(scene.labels) == len(scene.boxes) == len(scene.masks) == 3
    assert set(scene.labels) <= set(SHAPES)
    assert scene.masks.sum(axis=0).max() == 1  # objects do not overlap
    for box, mask in zip(scene.boxes, scene.masks):
        ys, xs = np.nonzero(mask)
        assert list(box) == [xs.min(), ys.min(), xs.max(), ys.max()]  # tight box


def test_scene_objects_stand_out_from_the_background():
    scene = shapes_scene(seed=2)
    inside = scene.image[scene.masks.any(axis=0)].mean()
    outside = scene.image[~scene.masks.any(axis=0)].mean()
    assert inside > outside + 0.2


def test_scene_is_fixed_by_the_seed():
    a, b = shapes_scene(seed=7), shapes_scene(seed=7)
    assert np.array_equal(a.image, b.image) and a.labels == b.labels


def test_scene_errors():
    with pytest.raises(ValueError, match="n_objects must be a whole number >= 1"):
        shapes_scene(n_objects=0)
    with pytest.raises(ValueError, match="could not place 40 objects"):
        shapes_scene(size=32, n_objects=40)


def test_shapes_dataset_is_fixed_by_the_seed_and_checks_n():
    a, b = shapes(5, size=32, seed=3), shapes(5, size=32, seed=3)
    assert torch.equal(a.images, b.images) and torch.equal(a.boxes, b.boxes)
    assert a.images.shape == (5, 3, 32, 32) and a.images.dtype == torch.float32
    with pytest.raises(ValueError, match="n must be a whole number >= 1"):
        shapes(0)
