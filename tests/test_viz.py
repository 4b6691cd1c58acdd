import io

import matplotlib.pyplot as plt
import numpy as np
import pytest

from cnnbook import viz
from cnnbook.datasets import shapes_scene


def test_images_figure_titles_each_panel():
    fig = viz.images_figure({"a": np.zeros((4, 4)), "b": np.ones((4, 4, 3))})
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]


def test_matrices_figure_blanks_zeros_on_a_shared_scale():
    fig = viz.matrices_figure({"x": np.array([[0.0, 2.0]]), "y": np.array([[-1.0, 0.0]])})
    images = [ax.get_images()[0] for ax in fig.axes]
    assert all(im.get_clim() == (-2.0, 2.0) for im in images)
    assert images[0].get_array().mask.tolist() == [[True, False]]


def test_task_map_draws_the_ground_truth():
    single, several = shapes_scene(n_objects=1, seed=0), shapes_scene(n_objects=3, seed=1)
    fig = viz.task_map_figure(single, several)
    classification, localization, detection, semantic, instance = fig.axes
    assert len(localization.patches) == 1 and len(detection.patches) == 3
    assert classification.texts[0].get_text() == f'"{single.labels[0]}"'
    semantic_colours = {tuple(c) for c in semantic.get_images()[0].get_array().reshape(-1, 3)}
    instance_colours = {tuple(c) for c in instance.get_images()[0].get_array().reshape(-1, 3)}
    assert len(semantic_colours) == len(set(several.labels)) + 1  # classes + background
    assert len(instance_colours) == len(several.labels) + 1  # objects + background


def test_task_map_needs_a_single_object_scene():
    with pytest.raises(ValueError, match="has 3 objects, expected 1"):
        viz.task_map_figure(shapes_scene(n_objects=3), shapes_scene(n_objects=3))


LECTURE_IMAGE = np.array([[int(c) for c in r] for r in "100001 010010 001100 100010 010010 001010".split()])
FILTER1 = np.array([[1, -1, -1], [-1, 1, -1], [-1, -1, 1]])


def test_grids_figure_writes_every_value():
    fig = viz.grids_figure({"a": np.array([[1, -2], [3, 4]])})
    assert [t.get_text() for t in fig.axes[0].texts] == ["1", "-2", "3", "4"]


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1)])
def test_conv_animation_moves_the_window_and_fills_the_map(stride, padding):
    from cnnbook.conv import conv2d

    animation = viz.conv_animation(LECTURE_IMAGE, FILTER1, stride=stride, padding=padding)
    expected = conv2d(LECTURE_IMAGE, FILTER1, stride, padding)
    frames = expected.size
    window = next(p for p in animation._fig.axes[0].patches)
    animation._draw_frame(frames - 1)
    last_row, last_col = expected.shape[0] - 1, expected.shape[1] - 1
    assert window.get_xy() == (last_col * stride - 0.5, last_row * stride - 0.5)
    out_texts = [t.get_text() for t in animation._fig.axes[2].texts]
    assert out_texts == [f"{v:g}" for v in expected.ravel()]
    animation._draw_frame(0)
    assert [t.get_text() for t in animation._fig.axes[2].texts][1] == ""  # later cells not yet filled
    html = viz.animation_html(animation, alt='the window slides; "quotes" are escaped')
    # every frame once for the player, and the first again as the image shown before it plays
    assert html.count("data:image/png;base64") == frames + 1
    assert 'alt="the window slides; &quot;quotes&quot; are escaped" src="data:image/png;base64' in html
    import base64
    import re

    src = re.search(r'<img id="_anim_img\w+" alt="[^"]*" src="data:image/png;base64,([^"]*)"', html).group(1)
    assert base64.b64decode(src, validate=True).startswith(b"\x89PNG")  # a valid image, not a JS string
    with pytest.raises(ValueError, match="alt must describe"):
        viz.animation_html(animation, alt=" ")


def test_the_player_plays_on_the_web_and_shows_its_first_frame_where_scripts_cannot_run():
    """The PDF (LaTeX) takes image/png before text/plain and has no text/html: it gets frame 0."""
    import base64
    import json
    import re

    animation = viz.conv_animation(LECTURE_IMAGE, FILTER1, stride=2)
    bundle = viz.animation_player(animation, alt="the window slides")._repr_mimebundle_()
    assert set(bundle) == {"text/html", "image/png", "text/plain"}
    assert "play_animation" in bundle["text/html"] and bundle["text/plain"] == "the window slides"
    # offline and accessible: no stylesheet from a CDN, no icon font, a named slider, named buttons
    player = bundle["text/html"]
    assert "https://" not in player and 'class="fa' not in player
    assert re.search(r'<input id="_anim_slider\w+" type="range" aria-label="Frame"', player)
    assert player.count('<svg aria-hidden="true"') == player.count("<button") == 9
    assert player.count('aria-label="') >= 9 + 1
    frames = [base64.b64decode(re.sub(r"[^A-Za-z0-9+/=]", "", f))
              for f in re.findall(r'frames\[\d+\] = "data:image/png;base64,([^"]+)"', bundle["text/html"])]
    assert len(frames) == 4 and len(set(frames)) == 4  # a 2x2 map: four different frames
    first = base64.b64decode(bundle["image/png"], validate=True)
    assert first == frames[0] and first.startswith(b"\x89PNG")
    json.dumps(bundle)  # a kernel sends it as JSON
    with pytest.raises(ValueError, match="text must say in words"):
        viz.WebOutput("<p>x</p>", text="")


def test_animation_rejects_what_conv2d_rejects():
    with pytest.raises(ValueError, match="kernel is 7 pixels"):
        viz.conv_animation(LECTURE_IMAGE, np.ones((7, 7)))


def test_feature_maps_figure_shows_the_first_channels():
    import torch

    fig = viz.feature_maps_figure(torch.rand(1, 40, 5, 5), count=32, columns=8)
    shown = [ax for ax in fig.axes if ax.get_images()]
    assert len(shown) == 32 and len(fig.axes) == 32
    assert "first 32 of 40 channels, each 5x5" in fig._suptitle.get_text()
    with pytest.raises(ValueError, match="batch of 2"):
        viz.feature_maps_figure(torch.rand(2, 4, 5, 5))


def test_gradcam_figure_overlays_each_map_on_the_photo():
    photo = np.zeros((20, 30, 3))
    fig = viz.gradcam_figure(photo, {"a": np.zeros((20, 30)), "b": np.ones((20, 30))})
    assert [ax.get_title() for ax in fig.axes] == ["photo", "a", "b"]
    assert [len(ax.get_images()) for ax in fig.axes] == [1, 2, 2]


def test_every_public_function_follows_the_naming_convention():
    """``*_figure`` returns a new Figure, ``draw_*`` takes the caller's axes first and returns nothing;
    the module docstring names the only exceptions."""
    import inspect
    import typing

    from matplotlib.figure import Figure

    exceptions = {"conv_panels", "conv_animation", "animation_html", "animation_player"}
    public = {name: f for name, f in inspect.getmembers(viz, inspect.isfunction)
              if f.__module__ == viz.__name__ and not name.startswith("_")}
    assert exceptions <= set(public)
    for name, function in public.items():
        hints = typing.get_type_hints(function)
        if name.endswith("_figure"):
            assert hints.get("return") is Figure, name
        elif name.startswith("draw_"):
            assert next(iter(inspect.signature(function).parameters)) == "ax", name
            assert hints.get("return") is type(None), name
        else:
            assert name in exceptions and f"``{name}``" in viz.__doc__, f"{name} follows no convention"


def test_draw_box_surrounds_exactly_the_pixels_of_the_box():
    fig, ax = plt.subplots()
    ax.imshow(np.zeros((10, 10)))
    viz.draw_box(ax, (2, 3, 5, 7), "red", label="square")
    (box,) = ax.patches
    assert (box.get_x(), box.get_y(), box.get_width(), box.get_height()) == (1.5, 2.5, 4, 5)
    assert [t.get_text() for t in ax.texts] == ["square"]
