"""What a careless student or a broken download gives the package, module by module.

Every row is one input: the call, and either the error it must raise (its type and a pattern that
names the argument, what was given or what is expected) or ``OK`` with a check of the result.
Each call runs under a 20-second alarm, so a hang is a failure, not a stuck test run. To add a
case, add a row to the module's table.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from cnnbook import alphago, attacks, conv, data, datasets, features, gradcam, maximize, models, spreadsheet, train, viz, weights, widgets
from cnnbook.build import sitecheck
from cnnbook.__main__ import main

NAN, INF = float("nan"), float("inf")
IMAGE, KERNEL = np.arange(36.0).reshape(6, 6), np.ones((3, 3))
EMPTY_BOARD = "\n".join(["." * 19] * 19)
OK = None  # the call must succeed


def run(call, expected):
    """Run ``call`` with an alarm; ``expected`` is OK or ``(exception type, pattern)``."""
    def hang(*_):
        raise TimeoutError("the call did not return within 20 s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(20)
    try:
        if expected is OK:
            return call()
        error, pattern = expected
        with pytest.raises(error, match=pattern):
            call()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def cases(table):
    return pytest.mark.parametrize("call, expected", [pytest.param(c, e, id=i) for i, c, e in table])


def small_cnn():
    torch.manual_seed(0)
    return train.small_cnn()


X = torch.rand(2, 1, 24, 24)
NAN_X = torch.full((1, 1, 24, 24), NAN)


# --- conv ------------------------------------------------------------------------------------------

CONV = [
    ("conv2d-stride-nan", lambda: conv.conv2d(IMAGE, KERNEL, stride=NAN), (ValueError, r"stride must be a whole number, got nan")),
    ("conv2d-stride-0", lambda: conv.conv2d(IMAGE, KERNEL, stride=0), (ValueError, r"stride must be a whole number >= 1, got 0")),
    ("conv2d-stride-float", lambda: conv.conv2d(IMAGE, KERNEL, stride=1.5), (ValueError, r"stride must be a whole number, got 1\.5")),
    ("conv2d-stride-bool", lambda: conv.conv2d(IMAGE, KERNEL, stride=True), (ValueError, r"stride must be a whole number, got True")),
    ("conv2d-padding-negative", lambda: conv.conv2d(IMAGE, KERNEL, padding=-1), (ValueError, r"padding must be a whole number >= 0")),
    ("conv2d-empty-image", lambda: conv.conv2d(np.zeros((0, 0)), KERNEL), (ValueError, r"x must have at least one value")),
    ("conv2d-empty-kernel", lambda: conv.conv2d(IMAGE, np.zeros((0, 0))), (ValueError, r"kernel must have at least one value")),
    ("conv2d-nan-image", lambda: conv.conv2d(np.full((6, 6), NAN), KERNEL), (ValueError, r"x holds 36 NaN")),
    ("conv2d-inf-kernel", lambda: conv.conv2d(IMAGE, np.full((3, 3), INF)), (ValueError, r"kernel holds 9 NaN or infinite")),
    ("conv2d-1d", lambda: conv.conv2d(np.ones(6), KERNEL), (ValueError, r"x must be 2-D \(H, W\) or 3-D")),
    ("conv2d-text", lambda: conv.conv2d("abc", KERNEL), (ValueError, r"x must be an array of numbers, got str")),
    ("conv2d-kernel-too-big", lambda: conv.conv2d(IMAGE, np.ones((7, 7))), (ValueError, r"kernel is 7 pixels")),
    ("max-pool-kernel-0", lambda: conv.max_pool2d(IMAGE, 0), (ValueError, r"kernel must be a whole number >= 1")),
    ("max-pool-kernel-too-big", lambda: conv.max_pool2d(IMAGE, 7), (ValueError, r"kernel \(7, 7\) is larger than x")),
    ("avg-pool-stride-negative", lambda: conv.avg_pool2d(IMAGE, 2, -2), (ValueError, r"stride must be a whole number >= 1, got -2")),
    ("output-size-nan", lambda: conv.output_size(NAN, 3), (ValueError, r"size must be a whole number, got nan")),
    ("output-size-inf", lambda: conv.output_size(INF, 3), (ValueError, r"size must be a whole number, got inf")),
    ("output-size-negative", lambda: conv.output_size(-5, 3), (ValueError, r"size must be a whole number >= 1, got -5")),
    ("output-size-dilation-0", lambda: conv.output_size(10, 3, dilation=0), (ValueError, r"dilation must be a whole number >= 1")),
    ("unrounded-stride-0", lambda: conv.output_size_unrounded(10, 3, stride=0), (ValueError, r"stride must be a whole number >= 1")),
    ("unrounded-nan", lambda: conv.output_size_unrounded(NAN, 3), (ValueError, r"size must be a whole number, got nan")),
    ("as-matrix-stride-0", lambda: conv.conv_as_matrix(KERNEL, 6, 6, stride=0), (ValueError, r"stride must be a whole number >= 1")),
    ("as-matrix-image-too-small", lambda: conv.conv_as_matrix(KERNEL, 2, 2), (ValueError, r"does not fit in a 2x2 image")),
    ("trace-wrong-channels", lambda: conv.trace_shapes(small_cnn(), (1, 3, 24, 24)),
     (ValueError, r"cannot take input_shape of shape \(1, 3, 24, 24\)")),
    ("trace-zero-batch", lambda: conv.trace_shapes(small_cnn(), (0, 1, 24, 24)), (ValueError, r"input_shape\[0\] must be a whole number >= 1")),
    ("trace-negative", lambda: conv.trace_shapes(small_cnn(), (1, 1, -24, 24)), (ValueError, r"input_shape\[2\] must be a whole number >= 1")),
    ("output-size-largest", lambda: conv.output_size(10**9, 3), OK),
]


@cases(CONV)
def test_conv_takes_bad_input_well(call, expected):
    run(call, expected)


# --- data and models ---------------------------------------------------------------------------------


def thin_png(tmp: Path) -> Path:
    path = tmp / "thin.png"
    Image.new("RGB", (1, 60000)).save(path)
    return path


DATA_AND_MODELS = [
    ("load-a-folder", lambda tmp: data.load_image(tmp), (data.ImageLoadError, r"is a directory, expected an image file")),
    ("load-missing", lambda tmp: data.load_image(tmp / "nope.png"), (data.ImageLoadError, r"nope\.png: no such file")),
    ("load-none", lambda tmp: data.load_image(None), (data.ImageLoadError, r"path must be the name of an image file, got None")),
    ("load-empty-name", lambda tmp: data.load_image(""), (data.ImageLoadError, r"path must be the name of an image file")),
    ("load-text-file", lambda tmp: data.load_image((tmp / "a.png").write_text("hello") and tmp / "a.png"),
     (data.ImageLoadError, r"a\.png")),
    ("sample-unknown", lambda tmp: data.sample_image("dog"), (KeyError, r"unknown sample image 'dog'; available: cat")),
    ("model-unknown", lambda tmp: models.default_weights("resnet"), (ValueError, r"unknown model 'resnet'")),
    ("preprocess-array", lambda tmp: models.preprocess(np.zeros((4, 4, 3)), lecture=True), (TypeError, r"expected a PIL image")),
    ("preprocess-no-weights", lambda tmp: models.preprocess(Image.new("RGB", (8, 8))), (ValueError, r"pass the model's weights")),
    ("preprocess-thin-strip", lambda tmp: models.preprocess(data.load_image(thin_png(tmp)), lecture=True),
     (ValueError, r"image is 1x60000 pixels .* crop it to at most 18:1")),
    ("preprocess-wide-but-fine", lambda tmp: models.preprocess(Image.new("RGB", (1600, 100)), lecture=True), OK),
    ("top-k-0", lambda tmp: models.top_k(small_cnn(), X, k=0, categories=list("abcdefghij")),
     (ValueError, r"k must be a whole number from 1 to 10, got 0")),
    ("top-k-too-many", lambda tmp: models.top_k(small_cnn(), X, k=11, categories=list("abcdefghij")),
     (ValueError, r"k must be a whole number from 1 to 10, got 11")),
    ("top-k-one-image-no-batch", lambda tmp: models.top_k(small_cnn(), X[0], categories=list("abcdefghij")),
     (ValueError, r"x must be a batch .* add the batch axis with x\[None\]")),
    ("top-k-short-categories", lambda tmp: models.top_k(small_cnn(), X, k=2, categories=["a"]),
     (ValueError, r"categories has 1 names but the model gives 10 classes")),
    ("top-k-nan", lambda tmp: models.top_k(small_cnn(), NAN_X, categories=list("abcdefghij")), (ValueError, r"x holds 576 NaN")),
    ("top-k-wrong-channels", lambda tmp: models.top_k(small_cnn(), torch.rand(1, 3, 24, 24), categories=list("abcdefghij")),
     (ValueError, r"cannot take x of shape \(1, 3, 24, 24\)")),
    ("top-k-integers", lambda tmp: models.top_k(small_cnn(), torch.ones(1, 1, 24, 24, dtype=torch.uint8),
                                                  categories=list("abcdefghij")), (ValueError, r"x must hold floats")),
]


@cases(DATA_AND_MODELS)
def test_data_and_models_take_bad_input_well(call, expected, tmp_path):
    run(lambda: call(tmp_path), expected)


# --- gradcam, attacks, maximize -----------------------------------------------------------------------

EXPLAIN = [
    ("gradcam-unknown-layer", lambda m: gradcam.gradcam(m, "nope", X), (KeyError, r"no layer named 'nope'")),
    ("gradcam-target-too-big", lambda m: gradcam.gradcam(m, "0", X, target=99), (ValueError, r"target classes must lie in 0\.\.9")),
    ("gradcam-target-negative", lambda m: gradcam.gradcam(m, "0", X, target=-1), (ValueError, r"must lie in 0\.\.9, got \[-1, -1\]")),
    ("gradcam-batch-size-0", lambda m: gradcam.gradcam(m, "0", X, batch_size=0), (ValueError, r"batch_size must be a whole number")),
    ("gradcam-no-images", lambda m: gradcam.gradcam(m, "0", X[:0]), (ValueError, r"x holds no pixels")),
    ("gradcam-nan", lambda m: gradcam.gradcam(m, "0", NAN_X), (ValueError, r"x holds 576 NaN")),
    ("gradcam-no-batch-axis", lambda m: gradcam.gradcam(m, "0", X[0]), (ValueError, r"x must be a batch")),
    ("gradcam-wrong-channels", lambda m: gradcam.gradcam(m, "0", torch.rand(1, 3, 24, 24)), (ValueError, r"cannot take x")),
    ("gradcam-too-few-targets", lambda m: gradcam.gradcam(m, "0", X, target=[1]), (ValueError, r"target has 1 classes but the batch has 2")),
    ("fgsm-eps-nan", lambda m: attacks.fgsm(m, X, NAN), (ValueError, r"eps must be a finite number >= 0, got nan")),
    ("fgsm-eps-inf", lambda m: attacks.fgsm(m, X, INF), (ValueError, r"eps must be a finite number >= 0, got inf")),
    ("fgsm-eps-negative", lambda m: attacks.fgsm(m, X, -0.1), (ValueError, r"eps must be a finite number >= 0")),
    ("fgsm-nan-image", lambda m: attacks.fgsm(m, NAN_X, 0.1), (ValueError, r"x holds 576 NaN")),
    ("iterated-fgsm-steps-0", lambda m: attacks.iterated_fgsm(m, X, 0.1, steps=0), (ValueError, r"steps must be a whole number >= 1")),
    ("iterated-fgsm-step-size-nan", lambda m: attacks.iterated_fgsm(m, X, 0.1, step_size=NAN), (ValueError, r"step_size must be a finite number > 0")),
    ("iterated-fgsm-eps-nan", lambda m: attacks.iterated_fgsm(m, X, NAN), (ValueError, r"eps must be a finite number")),
    ("maximize-steps-0", lambda m: maximize.activation_maximization(m, (1, 24, 24), steps=0), (ValueError, r"steps must be a whole")),
    ("maximize-unit-too-big", lambda m: maximize.activation_maximization(m, (1, 24, 24), unit=99, steps=2),
     (ValueError, r"unit must be below 10, the number of classes")),
    ("maximize-unit-negative", lambda m: maximize.activation_maximization(m, (1, 24, 24), unit=-1, steps=2),
     (ValueError, r"unit must be a whole number >= 0, got -1")),
    ("maximize-filter-too-big", lambda m: maximize.activation_maximization(m, (1, 24, 24), "filter", 40, layer="0", steps=2),
     (ValueError, r"unit must be below 32, the number of channels of layer '0'")),
    ("maximize-lr-nan", lambda m: maximize.activation_maximization(m, (1, 24, 24), lr=NAN, steps=2), (ValueError, r"lr must be a finite")),
    ("maximize-l1-nan", lambda m: maximize.activation_maximization(m, (1, 24, 24), l1=NAN, steps=2), (ValueError, r"l1 must be a finite")),
    ("maximize-l1-negative", lambda m: maximize.activation_maximization(m, (1, 24, 24), l1=-1, steps=2), (ValueError, r"l1 must be")),
    ("maximize-empty-shape", lambda m: maximize.activation_maximization(m, (1, 0, 24), steps=2), (ValueError, r"input_shape\[1\]")),
    ("maximize-kind", lambda m: maximize.activation_maximization(m, (1, 24, 24), kind="x"), (ValueError, r"kind must be 'class'")),
    ("maximize-units-empty", lambda m: maximize.maximize_units(m, (1, 24, 24), units=[]),
     (ValueError, r"units must be a non-empty list of unit numbers, got \[\]")),
    ("maximize-units-an-int", lambda m: maximize.maximize_units(m, (1, 24, 24), units=3),
     (ValueError, r"units must be a non-empty list of unit numbers, got 3")),
    ("maximize-units-negative", lambda m: maximize.maximize_units(m, (1, 24, 24), units=[1, -2], steps=2),
     (ValueError, r"units\[1\] must be a whole number >= 0, got -2")),
    ("maximize-units-too-big", lambda m: maximize.maximize_units(m, (1, 24, 24), units=[1, 12], steps=2),
     (ValueError, r"units\[1\] must be below 10, the number of classes of the model; got 12")),
    ("maximize-units-a-numpy-number", lambda m: maximize.maximize_units(m, (1, 24, 24), units=np.int64(3)),
     (ValueError, r"units must be a non-empty list of unit numbers, got (np\.int64\()?3")),
    ("maximize-units-none", lambda m: maximize.maximize_units(m, (1, 24, 24), units=None),
     (ValueError, r"units must be a non-empty list of unit numbers, got None")),
    ("maximize-units-a-word", lambda m: maximize.maximize_units(m, (1, 24, 24), units="3"),
     (ValueError, r"units must be a non-empty list of unit numbers, got '3'")),
    ("maximize-units-half", lambda m: maximize.maximize_units(m, (1, 24, 24), units=[2.5]),
     (ValueError, r"units\[0\] must be a whole number, got 2.5 \(float\)")),
    ("maximize-neuron-of-maps", lambda m: maximize.activation_maximization(m, (1, 24, 24), "neuron", 0, layer="0", steps=2),
     (ValueError, r"kind='neuron' needs outputs of shape \(batch, units\), but layer '0' gives \(1, 32, 24, 24\)")),
    ("fooling-target-too-big", lambda m: attacks.fooling_image(m, (1, 24, 24), 99, steps=2), (ValueError, r"target must be below 10")),
    ("fooling-confidence-2", lambda m: attacks.fooling_image(m, (1, 24, 24), 1, confidence=2, steps=2),
     (ValueError, r"confidence must be a finite number > 0 and <= 1")),
    ("fooling-steps-0", lambda m: attacks.fooling_image(m, (1, 24, 24), 1, steps=0), (ValueError, r"steps must be a whole")),
    ("rank-shapes", lambda m: gradcam.rank_correlation(torch.rand(2, 4, 4), torch.rand(3, 4, 4)), (ValueError, r"same shape")),
    ("rank-nan", lambda m: gradcam.rank_correlation(torch.full((1, 4, 4), NAN), torch.rand(1, 4, 4)), (ValueError, r"a holds 16 NaN")),
]


@cases(EXPLAIN)
def test_gradcam_attacks_and_maximize_take_bad_input_well(call, expected):
    model = small_cnn()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    run(lambda: call(model), expected)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "a failed call changed the model"
    assert not any(m._forward_hooks for m in model.modules()) and all(p.grad is None for p in model.parameters())


def batchnorm_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))


@pytest.mark.parametrize("call", [
    lambda m: gradcam.gradcam(m, "2", X),
    lambda m: attacks.fgsm(m, X, 0.1),
    lambda m: attacks.iterated_fgsm(m, X, 0.1, steps=2),
    lambda m: maximize.activation_maximization(m, (1, 24, 24), steps=3),
    lambda m: maximize.activation_maximization(m, (1, 24, 24), "filter", 1, layer="0", steps=3),
    lambda m: attacks.fooling_image(m, (1, 24, 24), 1, steps=3),
], ids=["gradcam", "fgsm", "iterated-fgsm", "maximize-class", "maximize-filter", "fooling"])
def test_a_model_in_training_mode_is_used_in_eval_mode_and_left_as_it_was(call):
    """BatchNorm's running statistics stay put, dropout does not randomise the result, and every
    module gets its own training flag back (one was deliberately left in eval mode)."""
    model = batchnorm_model().train()
    model[3].eval()
    stats = (model[1].running_mean.clone(), model[1].running_var.clone(), int(model[1].num_batches_tracked))
    first = call(model)
    assert torch.equal(model[1].running_mean, stats[0]) and torch.equal(model[1].running_var, stats[1])
    assert int(model[1].num_batches_tracked) == stats[2]
    assert [m.training for m in model] == [True, True, True, False, True, True, True] and model.training
    again = call(model)
    first, again = (r.image if hasattr(r, "image") else r[0] if isinstance(r, tuple) else r for r in (first, again))
    assert torch.equal(first, again), "the same call gave two results: dropout was active"


# --- features, train, datasets ------------------------------------------------------------------------

LABELS = torch.tensor([0, 1])
FEATURES_TRAIN_DATASETS = [
    ("maps-unknown-layer", lambda: features.feature_maps(small_cnn(), X, ["zz"]), (KeyError, r"no layer named 'zz'")),
    ("maps-no-layers", lambda: features.feature_maps(small_cnn(), X, []), (ValueError, r"layers is empty")),
    ("maps-a-string", lambda: features.feature_maps(small_cnn(), X, "features.0"),
     (ValueError, r"layers must be a list of layer names, got the string 'features\.0'; write \['features\.0'\]")),
    ("filters-columns-0", lambda: features.first_layer_filters(small_cnn(), columns=0), (ValueError, r"columns must be a whole")),
    ("filters-gap-negative", lambda: features.first_layer_filters(small_cnn(), gap=-1), (ValueError, r"gap must be a whole number >= 0")),
    ("filters-no-conv", lambda: features.first_layer_filters(train.mlp((1, 8, 8))), (ValueError, r"no Conv2d layer")),
    ("mlp-hidden-0", lambda: train.mlp((1, 8, 8), hidden=0), (ValueError, r"hidden must be a whole number >= 1, got 0")),
    ("mlp-shape-negative", lambda: train.mlp((1, -8, 8)), (ValueError, r"in_shape\[1\] must be a whole number >= 1")),
    ("cnn-classes-0", lambda: train.small_cnn(classes=0), (ValueError, r"classes must be a whole number >= 1")),
    ("digits-cnn-too-small", lambda: train.digits_cnn(in_shape=(1, 9, 28)), (ValueError, r"in_shape\[1\] must be a whole number >= 10, got 9")),
    ("digits-cnn-no-channels", lambda: train.digits_cnn(in_shape=(0, 28, 28)), (ValueError, r"in_shape\[0\] must be a whole number >= 1, got 0")),
    ("digits-cnn-2d-shape", lambda: train.digits_cnn(in_shape=(28, 28)), (ValueError, r"in_shape must be \(channels, height, width\), got \(28, 28\)")),
    ("digits-cnn-float-side", lambda: train.digits_cnn(in_shape=(1, 28.0, 28)), (ValueError, r"in_shape\[1\] must be a whole number, got 28\.0")),
    ("digits-cnn-width-0", lambda: train.digits_cnn(widths=(25, 0)), (ValueError, r"widths\[1\] must be a whole number >= 1, got 0")),
    ("digits-cnn-one-width", lambda: train.digits_cnn(widths=(25,)), (ValueError, r"widths must be two numbers")),
    ("digits-cnn-hidden-0", lambda: train.digits_cnn(hidden=0), (ValueError, r"hidden must be a whole number >= 1, got 0")),
    ("digits-cnn-classes-bool", lambda: train.digits_cnn(classes=True), (ValueError, r"classes must be a whole number, got True")),
    ("deep-blocks-0", lambda: train.deep_cnn(0, True), (ValueError, r"blocks must be a whole number >= 1")),
    ("fit-epochs-negative", lambda: train.fit(train.mlp((1, 24, 24)), X, LABELS, epochs=-1), (ValueError, r"epochs must be")),
    ("fit-lr-nan", lambda: train.fit(train.mlp((1, 24, 24)), X, LABELS, lr=NAN), (ValueError, r"lr must be a finite number > 0")),
    ("fit-batch-0", lambda: train.fit(train.mlp((1, 24, 24)), X, LABELS, batch_size=0), (ValueError, r"batch_size must be")),
    ("fit-label-too-big", lambda: train.fit(train.mlp((1, 24, 24)), X, torch.tensor([0, 12]), epochs=1),
     (ValueError, r"y holds labels from 0 to 12, but the model has 10 classes")),
    ("fit-lengths", lambda: train.fit(train.mlp((1, 24, 24)), X, LABELS[:1]), (ValueError, r"x has 2 examples but y has 1")),
    ("fit-nothing", lambda: train.fit(train.mlp((1, 24, 24)), X[:0], LABELS[:0]), (ValueError, r"x holds no pixels")),
    ("fit-nan-images", lambda: train.fit(train.mlp((1, 24, 24)), NAN_X, LABELS[:1]), (ValueError, r"x holds 576 NaN")),
    ("accuracy-nothing", lambda: train.accuracy(small_cnn(), X[:0], LABELS[:0]), (ValueError, r"x holds no pixels")),
    ("accuracy-batch-0", lambda: train.accuracy(small_cnn(), X, LABELS, batch_size=0), (ValueError, r"batch_size must be")),
    ("shift-out-of-view", lambda: train.accuracy_under_shift(small_cnn(), X, LABELS, -30), (ValueError, r"out of view")),
    ("shift-float", lambda: datasets.shift(X, 1.5, 0), (ValueError, r"dx must be a whole number, got 1\.5")),
    ("digits-size-0", lambda: datasets.digits(size=0), (ValueError, r"size must be a whole number >= 8, got 0")),
    ("digits-canvas-small", lambda: datasets.digits(size=16, canvas=8), (ValueError, r"need 8 <= size <= canvas")),
    ("digits-all-test", lambda: datasets.digits(test_fraction=1.0), (ValueError, r"test_fraction must be a finite number > 0 and < 1")),
    ("digits-test-nan", lambda: datasets.digits(test_fraction=NAN), (ValueError, r"test_fraction must be a finite number")),
    ("shapes-none", lambda: datasets.shapes(0), (ValueError, r"n must be a whole number >= 1, got 0")),
    ("shapes-tiny", lambda: datasets.shapes(2, size=4), (ValueError, r"size must be a whole number >= 8, got 4")),
    ("scene-no-objects", lambda: datasets.shapes_scene(n_objects=-1), (ValueError, r"n_objects must be a whole number >= 1")),
    ("scene-noise-nan", lambda: datasets.shapes_scene(noise=NAN), (ValueError, r"noise must be a finite number")),
    ("scene-crowded", lambda: datasets.shapes_scene(size=8, n_objects=20), (ValueError, r"could not place 20 objects")),
]


@cases(FEATURES_TRAIN_DATASETS)
def test_features_training_and_data_sets_take_bad_input_well(call, expected):
    run(call, expected)


def test_training_that_blows_up_stops_and_gives_the_model_its_weights_back():
    model = train.mlp((1, 24, 24))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(FloatingPointError, match=r"lr=1e\+30 too large\?\); the model keeps the weights it had"):
        train.fit(model, X, LABELS, epochs=5, lr=1e30, batch_size=1)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


# --- figures, spreadsheets, widgets ---------------------------------------------------------------------

FIGURES = [
    ("workbook-stride-0", lambda: spreadsheet.conv_workbook(IMAGE, KERNEL, stride=0), (ValueError, r"stride must be a whole number >= 1")),
    ("workbook-nan", lambda: spreadsheet.conv_workbook(np.full((6, 6), NAN), KERNEL), (ValueError, r"image holds 36 NaN")),
    ("workbook-3d", lambda: spreadsheet.conv_workbook(np.ones((2, 6, 6)), KERNEL), (ValueError, r"image must be a 2-D grid")),
    ("pool-mode", lambda: spreadsheet.pool_workbook(IMAGE, 2, mode="median"), (ValueError, r"mode must be 'max' or 'average'")),
    ("pool-kernel-0", lambda: spreadsheet.pool_workbook(IMAGE, 0), (ValueError, r"kernel must be a whole number >= 1")),
    ("calculator-size-0", lambda: widgets.calculator_html(size=0), (ValueError, r"size must be a whole number >= 1, got 0")),
    ("calculator-nan", lambda: widgets.calculator_html(size=NAN), (ValueError, r"size must be a whole number, got nan")),
    ("calculator-padding-negative", lambda: widgets.calculator_html(padding=-1), (ValueError, r"padding must be a whole number >= 0")),
    ("animation-stride-0", lambda: viz.conv_animation(IMAGE, KERNEL, stride=0), (ValueError, r"stride must be a whole number >= 1")),
    ("grid-count-0", lambda: viz.feature_maps_figure(torch.rand(4, 5, 5), count=0), (ValueError, r"count must be a whole number >= 1")),
    ("grid-batch", lambda: viz.feature_maps_figure(torch.rand(2, 4, 5, 5)), (ValueError, r"expected one image's maps, got a batch of 2")),
    ("images-none", lambda: viz.images_figure({}), (ValueError, r"images is empty")),
]


@cases(FIGURES)
def test_figures_spreadsheets_and_widgets_take_bad_input_well(call, expected):
    run(call, expected)


# --- alphago ------------------------------------------------------------------------------------------

PLANES = torch.zeros(1, 48, 19, 19)
ALPHAGO = [
    ("positions-density-0", lambda: alphago.atari_positions(1, density=0.0), (ValueError, r"density must be a finite number > 0 and < 0\.5")),
    ("positions-density-1", lambda: alphago.atari_positions(1, density=1.0), (ValueError, r"density must be")),
    ("positions-density-half", lambda: alphago.atari_positions(1, density=0.5), (ValueError, r"density must be")),
    ("positions-density-nan", lambda: alphago.atari_positions(1, density=NAN), (ValueError, r"density must be a finite number")),
    ("positions-size-1", lambda: alphago.atari_positions(1, size=1), (ValueError, r"size must be a whole number from 2 to 19, got 1")),
    ("positions-n-float", lambda: alphago.atari_positions(2.5), (ValueError, r"n must be a whole number, got 2\.5")),
    ("positions-rarely-found", lambda: alphago.atari_positions(50, density=0.45),
     (RuntimeError, r"boards at density 0\.45 had exactly one capturing move, too few to find 50; try a density near 0\.12")),
    ("positions-small-board", lambda: alphago.atari_positions(3, size=7), OK),
    ("parse-nothing", lambda: alphago.parse(""), (ValueError, r"a 19x19 board needs 19 rows, got 0")),
    ("parse-to-play", lambda: alphago.parse(EMPTY_BOARD, to_play="Z"), (ValueError, r"to_play must be 'X' \(black\) or 'O'")),
    ("parse-size-0", lambda: alphago.parse("", size=0), (ValueError, r"size must be a whole number from 2 to 19, got 0")),
    ("parse-not-text", lambda: alphago.parse(None), (ValueError, r"text must be a string")),
    ("play-off-board", lambda: alphago.play(alphago.parse(EMPTY_BOARD), 19, 0), (ValueError, r"row must be a whole number from 0 to 18, got 19")),
    ("play-negative", lambda: alphago.play(alphago.parse(EMPTY_BOARD), 0, -1), (ValueError, r"col must be a whole number from 0 to 18, got -1")),
    ("eye-off-board", lambda: alphago.is_eye(alphago.parse(EMPTY_BOARD), 30, 0), (ValueError, r"row must be a whole number")),
    ("count-k-0", lambda: alphago.parameter_count(0), (ValueError, r"k must be a whole number >= 1, got 0")),
    ("network-k-0", lambda: alphago.PolicyNetwork(k=0), (ValueError, r"k must be a whole number >= 1, got 0")),
    ("fit-epochs-0", lambda: alphago.fit(alphago.PolicyNetwork(k=2), PLANES, torch.tensor([0]), epochs=0), (ValueError, r"epochs must be")),
    ("fit-lr-nan", lambda: alphago.fit(alphago.PolicyNetwork(k=2), PLANES, torch.tensor([0]), lr=NAN), (ValueError, r"lr must be")),
    ("fit-move-off-board", lambda: alphago.fit(alphago.PolicyNetwork(k=2), PLANES, torch.tensor([400])),
     (ValueError, r"moves must be points 0 to 360 \(row \* 19 \+ column\), got values from 400 to 400")),
    ("accuracy-nothing", lambda: alphago.accuracy(alphago.PolicyNetwork(k=2), PLANES[:0], torch.tensor([], dtype=torch.long)),
     (ValueError, r"planes holds no positions")),
]


@cases(ALPHAGO)
def test_alphago_takes_bad_input_well(call, expected):
    run(call, expected)


# --- the site checker ---------------------------------------------------------------------------------


def test_the_site_checker_reports_odd_items_as_problems_and_keeps_checking(tmp_path):
    (tmp_path / "index.html").write_text('<a href="later.html">next</a><img src="data:image/png;base64,@@@" alt="a dot">'
                                         '<img src="data:image/png" alt="no comma">')
    (tmp_path / "x.html").mkdir()
    (tmp_path / "later.html").write_text('<a href="missing.html">gone</a>')
    report = sitecheck.check_site(tmp_path)
    problems = "\n".join(report.problems)
    assert "x.html: is not a file" in problems
    assert "index.html: image with a malformed data: URI" in problems and "no comma between" in problems
    assert "later.html: broken link 'missing.html'" in problems  # checking went on past the odd items
    assert main(["check-site", str(tmp_path)]) == 1


# --- the command line ----------------------------------------------------------------------------------


@pytest.fixture
def photos(tmp_path, monkeypatch, torch_home):
    monkeypatch.setenv("CNNBOOK_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (64, 64), (200, 10, 10)).save("ok.png")
    Image.new("RGB", (1, 60000)).save("thin.png")
    Path("text.png").write_text("hello")
    Path("folder.png").mkdir()
    return tmp_path


CLI = [
    ("predict-thin-strip", ["predict", "thin.png", "--model", "resnet18"], 2, r"image is 1x60000 pixels"),
    ("predict-top-0", ["predict", "ok.png", "--top", "0"], 2, r"--top: must be a whole number from 1 to 1000, got 0"),
    ("predict-top-too-many", ["predict", "ok.png", "--top", "1001"], 2, r"from 1 to 1000, got 1001"),
    ("predict-top-word", ["predict", "ok.png", "--top", "five"], 2, r"got 'five'"),
    ("predict-a-folder", ["predict", "."], 2, r"is a directory, expected an image file"),
    ("predict-missing", ["predict", "nope.jpg"], 2, r"nope\.jpg: no such file"),
    ("predict-not-an-image", ["predict", "text.png"], 2, r"text\.png"),
    ("predict-unknown-model", ["predict", "ok.png", "--model", "vgg"], 2, r"invalid choice: 'vgg'"),
    ("gradcam-out-folder", ["gradcam", "ok.png", "--out", "folder.png"], 2, r"'folder\.png' is a folder"),
    ("gradcam-out-no-ending", ["gradcam", "ok.png", "--out", "heat"], 2, r"'heat' must end in one of .*\.png"),
    ("gradcam-out-no-folder", ["gradcam", "ok.png", "--out", "no/such/heat.png"], 2, r"the folder 'no/such' does not exist"),
    ("check-site-nothing-built", ["check-site", "nowhere"], 1, r"holds no index\.html"),
    ("check-site-budget-negative", ["check-site", ".", "--budget", "-1"], 2, r"--budget: must be a positive number"),
    ("check-site-budget-nan", ["check-site", ".", "--budget", "nan"], 2, r"must be a positive number of megabytes, got 'nan'"),
    ("download-unknown-model", ["download-weights", "resnet"], 2, r"unknown model 'resnet'"),
    ("download-offline", ["download-weights", "resnet18"], 1, r"not downloading .* because CNNBOOK_OFFLINE=1"),
]


@pytest.mark.parametrize("argv, code, pattern", [pytest.param(a, c, p, id=i) for i, a, c, p in CLI])
def test_the_command_line_takes_bad_input_well(photos, capsys, argv, code, pattern):
    before = sorted(p.name for p in photos.iterdir())

    def call():
        try:
            return main(argv)
        except SystemExit as stop:
            return stop.code

    assert run(call, OK) == code
    out = capsys.readouterr()
    assert re.search(pattern, out.out + out.err), out.out + out.err
    assert "Traceback" not in out.err
    assert sorted(p.name for p in photos.iterdir()) == before, "a file was written where nobody asked"


def test_download_weights_replaces_a_damaged_checkpoint(torch_home, monkeypatch, capsys):
    """The repair the error message names works: a truncated file is not 'already cached'."""
    path = weights.checkpoint_path(weights.default_weights("resnet18"))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"half a checkpoint")
    fetched = []

    def fake_download(url, dst, hash_prefix=None, progress=True):
        fetched.append((url, hash_prefix))
        Path(dst).write_bytes(b"the published file")

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    assert main(["download-weights", "resnet18", "--quiet"]) == 0
    assert fetched == [(weights.default_weights("resnet18").url, "f37072fd")]
    assert re.search(r"not the published file: .*; downloading it again", capsys.readouterr().out)
    assert path.read_bytes() == b"the published file"


def test_download_weights_blames_an_unwritable_cache_not_the_network(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TORCH_HOME", str(blocker / "torch"))
    monkeypatch.delenv("CNNBOOK_OFFLINE", raising=False)
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("must not download"))
    assert main(["download-weights", "resnet18", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "cannot write to" in err and "set TORCH_HOME to a folder you can write to" in err
    assert "Is this machine online?" not in err
