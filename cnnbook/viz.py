"""Figures the chapters draw: image rows, matrices, and the computer-vision task map.

Used by the preface and chapters 1, 2, 4 to 6, 8, 10 and 11.

One convention for every name: ``*_figure(...)`` makes a new matplotlib ``Figure`` and returns it;
``draw_*(ax, ...)`` draws on axes the caller made (for a figure of several panels) and returns
nothing. The three exceptions say what they return: ``conv_panels`` (figure, axes and the
convolution's output, for the animation and the widget), ``conv_animation`` (a matplotlib
animation), ``animation_html`` (the animation as HTML) and ``animation_player`` (the same HTML, with
the first frame as a picture for the PDF: a :class:`WebOutput`).
"""

from __future__ import annotations

import base64
import re
from html import escape
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Patch, Rectangle

from . import checks
from .datasets import SHAPES, Scene

#: One colour per shape class, for boxes and semantic masks.
CLASS_COLOURS = {"square": "#d62728", "disk": "#1f77b4", "triangle": "#2ca02c"}


def images_figure(images: Mapping[str, np.ndarray], cmap: str = "gray", size: float = 2.6) -> Figure:
    """A row of images, each titled by its key; 2-D arrays drawn with ``cmap``."""
    if not images:
        raise ValueError("images is empty; pass a mapping of titles to images")
    fig, axes = plt.subplots(1, len(images), figsize=(size * len(images), size), squeeze=False)
    for ax, (title, image) in zip(axes[0], images.items()):
        ax.imshow(image, cmap=cmap if np.ndim(image) == 2 else None)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    return fig


def matrices_figure(matrices: Mapping[str, np.ndarray], cmap: str = "coolwarm", width: float = 4.2) -> Figure:
    """Matrices side by side on one symmetric colour scale; zeros are drawn white."""
    limit = max(float(np.abs(m).max()) for m in matrices.values()) or 1.0
    fig, axes = plt.subplots(1, len(matrices), figsize=(width * len(matrices), width * 0.6), squeeze=False)
    for ax, (title, matrix) in zip(axes[0], matrices.items()):
        shown = np.ma.masked_equal(np.asarray(matrix, dtype=float), 0.0)
        palette = plt.get_cmap(cmap).with_extremes(bad="white")
        ax.imshow(shown, cmap=palette, vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("input pixel")
        ax.set_ylabel("output value")
    fig.tight_layout()
    return fig


def draw_box(ax: plt.Axes, box: Sequence[int], colour: str = "white", label: str | None = None,
             width: float = 2.0) -> None:
    """The box ``(x0, y0, x1, y1)`` (inclusive pixel coordinates, as the shapes data gives them)
    drawn around those pixels, with ``label`` written above it if given."""
    x0, y0, x1, y1 = (int(v) for v in box)
    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0 + 1, y1 - y0 + 1, fill=False, lw=width, ec=colour))
    if label:
        ax.text(x0, y0 - 2, label, color="white", fontsize=8, va="bottom",
                bbox={"facecolor": colour, "edgecolor": "none", "pad": 1})


def task_map_figure(single: Scene, several: Scene) -> Figure:
    """The five computer-vision tasks, each drawn with the ground truth it asks a network for.

    ``single`` (one object) illustrates classification and classification + localisation;
    ``several`` illustrates detection, semantic segmentation and instance segmentation.
    """
    if len(single.labels) != 1:
        raise ValueError(f"the single-object scene has {len(single.labels)} objects, expected 1")
    fig, axes = plt.subplots(1, 5, figsize=(15, 3.9))
    titles = [
        "Classification\n(one label)", "Classification + localization\n(one label, one box)",
        "Object detection\n(a box and label per object)", "Semantic segmentation\n(a class per pixel)",
        "Instance segmentation\n(a mask per object)",
    ]
    for ax, title in zip(axes, titles):
        ax.set_title(title, fontsize=11)
        ax.axis("off")

    def caption(ax: plt.Axes, text: str) -> None:
        ax.text(0.5, -0.04, text, transform=ax.transAxes, ha="center", va="top", fontsize=11)

    label = single.labels[0]
    axes[0].imshow(single.image)
    caption(axes[0], f'"{label}"')
    axes[1].imshow(single.image)
    draw_box(axes[1], single.boxes[0], CLASS_COLOURS[label])
    caption(axes[1], f'"{label}" + box')

    axes[2].imshow(several.image)
    for box, name in zip(several.boxes, several.labels):
        draw_box(axes[2], box, CLASS_COLOURS[name], name)
    caption(axes[2], ", ".join(f'"{name}"' for name in several.labels))

    semantic = np.zeros(several.image.shape)
    for mask, name in zip(several.masks, several.labels):
        semantic[mask] = plt.matplotlib.colors.to_rgb(CLASS_COLOURS[name])
    axes[3].imshow(semantic)
    axes[3].legend(handles=[Patch(color=CLASS_COLOURS[s], label=s) for s in SHAPES], loc="upper center",
                   bbox_to_anchor=(0.5, -0.01), ncol=len(SHAPES), frameon=False, fontsize=9,
                   handlelength=1, columnspacing=0.8)

    instance = np.zeros(several.image.shape)
    palette = plt.get_cmap("Set2")
    for i, mask in enumerate(several.masks):
        instance[mask] = palette(i % palette.N)[:3]
    axes[4].imshow(instance)
    caption(axes[4], f"{len(several.masks)} separate objects")
    fig.tight_layout()
    return fig


def draw_grid(ax: plt.Axes, values: np.ndarray, title: str, cmap: str = "RdBu_r", limit: float | None = None,
               shade: np.ndarray | None = None) -> None:
    """A grid of numbers as coloured cells with the number written in each."""
    values = np.asarray(values, dtype=float)
    if cmap == "Greys":  # an image: 0 is white paper, the largest value is black ink
        low, high = min(0.0, float(values.min())), max(1.0, float(values.max()))
        dark = lambda v: v > low + 0.6 * (high - low)  # noqa: E731
    else:  # signed values: a diverging map centred on 0
        high = limit or float(np.abs(values).max()) or 1.0
        low = -high
        dark = lambda v: abs(v) > 0.6 * high  # noqa: E731
    ax.imshow(values, cmap=cmap, vmin=low, vmax=high)
    if shade is not None:  # tint the padding cells
        ax.imshow(np.ma.masked_where(~shade, np.ones_like(values)), cmap="Oranges", vmin=0, vmax=4, alpha=0.5)
    for (i, j), value in np.ndenumerate(values):
        ax.text(j, i, f"{value:g}", ha="center", va="center", fontsize=9, color="white" if dark(value) else "black")
    ax.set_xticks(np.arange(-0.5, values.shape[1]), minor=True)
    ax.set_yticks(np.arange(-0.5, values.shape[0]), minor=True)
    ax.grid(which="minor", color="white", linewidth=1)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    ax.set_title(title, fontsize=10)


def grids_figure(grids: Mapping[str, np.ndarray], size: float = 2.6) -> Figure:
    """Small grids of numbers side by side, each cell labelled with its value."""
    fig, axes = plt.subplots(1, len(grids), figsize=(size * len(grids), size), squeeze=False)
    for ax, (title, values) in zip(axes[0], grids.items()):
        draw_grid(ax, values, title)
    fig.tight_layout()
    return fig


def conv_panels(image: np.ndarray, kernel: np.ndarray, stride: int, padding: int, input_title: str,
                figsize: tuple[float, float] = (9, 3.2), dpi: float | None = None):
    """Three panels, the padded input (padding tinted) and the kernel drawn, the third left for the
    feature map. Returns ``(figure, axes, feature map)``; the map comes from ``conv.conv2d``, which
    also checks the arguments."""
    from .conv import conv2d

    image, kernel = np.asarray(image, dtype=float), np.asarray(kernel, dtype=float)
    result = conv2d(image, kernel, stride, padding)
    padded = np.pad(image, padding)
    shade = np.pad(np.zeros(image.shape, dtype=bool), padding, constant_values=True)
    fig, axes = plt.subplots(1, 3, figsize=figsize, dpi=dpi, gridspec_kw={
        "width_ratios": [padded.shape[1], kernel.shape[1] + 1, result.shape[1] + 1]})
    draw_grid(axes[0], padded, input_title, cmap="Greys", shade=shade if padding else None)
    draw_grid(axes[1], kernel, "kernel")
    return fig, axes, result


def conv_animation(image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: int = 0, interval: int = 700):
    """A matplotlib animation of the kernel sliding over the image and filling in the feature map.

    Returns a ``FuncAnimation``; ``animation_html`` turns it into HTML that plays without a kernel.
    """
    from matplotlib.animation import FuncAnimation

    kernel = np.asarray(kernel, dtype=float)
    fig, (ax_in, _, ax_out), result = conv_panels(
        image, kernel, stride, padding, "input" + (f" (padding {padding})" if padding else ""),
        figsize=(8, 3), dpi=60)
    k_h, k_w = kernel.shape
    positions = [(i, j) for i in range(result.shape[0]) for j in range(result.shape[1])]
    limit = float(np.abs(result).max()) or 1.0
    window = Rectangle((-0.5, -0.5), k_w, k_h, fill=False, ec="#d62728", lw=3)
    ax_in.add_patch(window)
    filled = np.full(result.shape, np.nan)
    out_image = ax_out.imshow(filled, cmap="RdBu_r", vmin=-limit, vmax=limit)
    texts = [[ax_out.text(j, i, "", ha="center", va="center", fontsize=9) for j in range(result.shape[1])]
             for i in range(result.shape[0])]
    ax_out.set_xticks(np.arange(-0.5, result.shape[1]), minor=True)
    ax_out.set_yticks(np.arange(-0.5, result.shape[0]), minor=True)
    ax_out.grid(which="minor", color="grey", linewidth=0.5)
    ax_out.set_xlim(-0.5, result.shape[1] - 0.5)
    ax_out.set_ylim(result.shape[0] - 0.5, -0.5)
    ax_out.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    ax_out.set_title(f"feature map, stride {stride}", fontsize=10)
    caption = fig.text(0.5, 0.02, "", ha="center", fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 1))

    def draw(frame: int):
        i, j = positions[frame]
        window.set_xy((j * stride - 0.5, i * stride - 0.5))
        filled[:] = np.nan
        for n, (a, b) in enumerate(positions):
            done = n <= frame
            filled[a, b] = result[a, b] if done else np.nan
            texts[a][b].set_text(f"{result[a, b]:g}" if done else "")
        out_image.set_data(filled)
        caption.set_text(f"output ({i}, {j}) = sum of window x kernel = {result[i, j]:g}")
        return [window, out_image, caption]

    return FuncAnimation(fig, draw, frames=len(positions), interval=interval, blit=False)


class WebOutput:
    """A cell output for every format the book is read in: ``html`` for the web page and a live
    notebook (scripts run there), and a stand-in where they cannot, such as the PDF: ``png`` (a
    picture) or, failing that, ``text``. Jupyter and Jupyter Book pick what suits them."""

    def __init__(self, html: str, text: str, png: bytes | None = None) -> None:
        if not text.strip():
            raise ValueError("text must say in words what the output shows, got an empty string")
        self.html, self.text, self.png = html, text, png

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        bundle = {"text/html": self.html, "text/plain": self.text}
        if self.png is not None:
            # as text, the way Jupyter sends pictures (raw bytes would stop the kernel's message)
            bundle["image/png"] = base64.b64encode(self.png).decode("ascii")
        return bundle


def animation_html(animation, alt: str, default_mode: str = "once") -> str:
    """The animation as self-contained HTML/JavaScript (frames embedded), and its figure closed.

    ``alt`` describes the animation for readers who cannot see it. The player's image starts out
    showing the first frame, so the page shows something before (or without) its JavaScript.
    """
    return _player(animation, alt, default_mode)[0]


def animation_player(animation, alt: str, default_mode: str = "once") -> WebOutput:
    """The animation for a chapter: it plays on the web page and in a notebook; the PDF shows its
    first frame; ``alt`` describes it for readers who cannot see it."""
    html, first_frame = _player(animation, alt, default_mode)
    return WebOutput(html, text=alt, png=first_frame)


def _player(animation, alt: str, default_mode: str) -> tuple[str, bytes]:
    if not alt.strip():
        raise ValueError("alt must describe the animation in words")
    html = animation.to_jshtml(default_mode=default_mode)
    plt.close(animation._fig)
    first = re.search(r'frames\[0\] = "(data:image/[^"]+)"', html)
    tag = re.search(r'<img id="(_anim_img\w+)">', html)
    if first is None or tag is None:
        raise RuntimeError("matplotlib's JSHTML player has changed: no first frame or player image found")
    # the frame is a JavaScript string continued over lines with backslashes: keep the base64 only
    header, payload = first.group(1).split(",", 1)
    payload = re.sub(r"[^A-Za-z0-9+/=]", "", payload)
    src = header + "," + payload
    html = html.replace(tag.group(0), f'<img id="{tag.group(1)}" alt="{escape(alt, quote=True)}" src="{src}">', 1)
    return _offline_controls(html), base64.b64decode(payload)


#: The player's Font Awesome 4 icons (fetched from a CDN, so missing offline) as inline SVG paths,
#: which every browser draws (characters such as U+23EE are missing from many fonts).
_PLAYER_ICONS = {
    "fa-minus": "M2 7h12v2H2z",
    "fa-fast-backward": "M15 2 9 8l6 6zM9 2 3 8l6 6zM1 2h2v12H1z",
    "fa-step-backward": "M13 2 6 8l7 6zM3 2h2v12H3z",
    "fa-play fa-flip-horizontal": "M12 2 3 8l9 6z",
    "fa-pause": "M3 2h4v12H3zM9 2h4v12H9z",
    "fa-play": "M4 2l9 6-9 6z",
    "fa-step-forward": "M3 2l7 6-7 6zM11 2h2v12h-2z",
    "fa-fast-forward": "M1 2l6 6-6 6zM7 2l6 6-6 6zM13 2h2v12h-2z",
    "fa-plus": "M7 2h2v5h5v2H9v5H7V9H2V7h5z",
}


#: The words on matplotlib's player (its buttons' titles, the slider's name, the repeat modes): the
#: Chinese edition translates them on its pages.
PLAYER_WORDS = ("Decrease speed", "First frame", "Previous frame", "Play backwards", "Pause", "Play",
                "Next frame", "Last frame", "Increase speed", "Repetition mode", "Frame", "Once", "Loop",
                "Reflect")


def _offline_controls(html: str) -> str:
    """matplotlib's player, made to work without internet and with a screen reader: its buttons draw
    their icons themselves instead of taking them from a CDN, and its frame slider gets a name."""
    html, links = re.subn(r'<link rel="stylesheet"\s+href="https://[^"]*font-awesome[^"]*">', "", html)
    for icon, path in _PLAYER_ICONS.items():
        svg = (f'<svg aria-hidden="true" viewBox="0 0 16 16" width="14" height="14" style="vertical-align: -2px">'
               f'<path fill="currentColor" d="{path}"/></svg>')
        html = html.replace(f'<i class="fa {icon}"></i>', svg)
    html, sliders = re.subn(r'(<input id="_anim_slider\w+" type="range")', r'\1 aria-label="Frame"', html)
    if links != 1 or sliders != 1 or 'class="fa ' in html:
        raise RuntimeError("matplotlib's JSHTML player has changed: its icon stylesheet, icons or slider "
                           "are not where cnnbook.viz expects them")
    return html


def feature_maps_figure(maps, count: int = 32, columns: int = 8, title: str = "", size: float = 1.1) -> Figure:
    """The first ``count`` channels of one feature map ``(C, H, W)`` (or ``(1, C, H, W)``), in grey.

    Each channel gets its own contrast, as in the lecture's figures; the title states the shape.
    """
    count, columns = checks.whole("count", count, 1), checks.whole("columns", columns, 1)
    maps = np.asarray(maps.detach().cpu() if hasattr(maps, "detach") else maps)
    if maps.ndim == 4:
        if maps.shape[0] != 1:
            raise ValueError(f"expected one image's maps, got a batch of {maps.shape[0]}")
        maps = maps[0]
    if maps.ndim != 3:
        raise ValueError(f"expected feature maps (C, H, W), got shape {maps.shape}")
    count = min(count, maps.shape[0])
    rows = -(-count // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows + 0.4), squeeze=False)
    for index, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if index < count:
            ax.imshow(maps[index], cmap="gray")
    fig.suptitle(title or f"first {count} of {maps.shape[0]} channels, each {maps.shape[1]}x{maps.shape[2]}",
                 fontsize=10)
    fig.tight_layout()
    return fig


def filters_figure(grid: np.ndarray, title: str = "", size: float = 5.0) -> Figure:
    """An image grid of filters, as made by ``features.first_layer_filters``."""
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(grid, interpolation="nearest")
    ax.set_title(title, fontsize=10)
    ax.axis("off")
    fig.tight_layout()
    return fig


def gradcam_figure(photo: np.ndarray, maps: Mapping[str, np.ndarray], size: float = 3.2) -> Figure:
    """The photo, then each heatmap laid over it (``jet``, half transparent), titled by its key."""
    fig, axes = plt.subplots(1, len(maps) + 1, figsize=(size * (len(maps) + 1), size), squeeze=False)
    axes[0, 0].imshow(photo)
    axes[0, 0].set_title("photo", fontsize=10)
    for ax, (title, heatmap) in zip(axes[0, 1:], maps.items()):
        ax.imshow(photo)
        ax.imshow(heatmap, cmap="jet", alpha=0.45, vmin=0, vmax=1,
                  extent=(-0.5, photo.shape[1] - 0.5, photo.shape[0] - 0.5, -0.5))
        ax.set_title(title, fontsize=10)
    for ax in axes[0]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def draw_go_board(ax: plt.Axes, board: np.ndarray, heat: np.ndarray | None = None, marks: Mapping[str, tuple[int, int]] | None = None,
                  title: str = "", cmap: str = "YlOrRd", vmin: float = 0.0, vmax: float | None = None,
                  stones: float = 1.0) -> None:
    """Draw a Go board (an array of 0 empty, 1 black, 2 white) on ``ax``.

    ``heat``, one value per point, is painted as a square under each point (a feature plane or
    the policy's probabilities) on a scale from ``vmin`` to ``vmax`` (default: its maximum);
    ``stones`` sets how opaque the stones are drawn over it.
    ``marks`` rings points, e.g. ``{"answer": (row, col)}``, with a legend.
    """
    board = np.asarray(board)
    size = board.shape[0]
    ax.set_facecolor("#dcb35c")
    if heat is not None:
        heat = np.asarray(heat, dtype=float).reshape(size, size)
        top = vmax if vmax is not None else heat.max()
        image = ax.imshow(heat, cmap=cmap, vmin=vmin, vmax=max(top, vmin + 1e-12),
                          extent=(-0.5, size - 0.5, size - 0.5, -0.5), interpolation="nearest")
        plt.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
    for i in range(size):
        ax.plot([0, size - 1], [i, i], color="black", lw=0.5, zorder=1)
        ax.plot([i, i], [0, size - 1], color="black", lw=0.5, zorder=1)
    if size == 19:  # the nine star points
        for r in (3, 9, 15):
            for c in (3, 9, 15):
                ax.plot(c, r, "o", color="black", markersize=2.5, zorder=1)
    for colour, face in ((1, "black"), (2, "white")):
        for r, c in zip(*np.nonzero(board == colour)):
            ax.add_patch(Circle((c, r), 0.45, facecolor=face, edgecolor="black", linewidth=0.6, alpha=stones, zorder=2))
    for (label, (r, c)), colour in zip((marks or {}).items(), ("#d62728", "#1f77b4", "#2ca02c")):
        ax.add_patch(Circle((c, r), 0.6, facecolor="none", edgecolor=colour, linewidth=2.2, zorder=3, label=label))
    if marks:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=len(marks), fontsize=8, frameon=False)
    ax.set_xlim(-0.7, size - 0.3)
    ax.set_ylim(size - 0.3, -0.7)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
