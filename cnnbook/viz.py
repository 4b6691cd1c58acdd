"""Figures the chapters draw: image rows, matrices, and the computer-vision task map."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from .datasets import SHAPES, Scene

#: One colour per shape class, for boxes and semantic masks.
CLASS_COLOURS = {"square": "#d62728", "disk": "#1f77b4", "triangle": "#2ca02c"}


def show_images(images: Mapping[str, np.ndarray], cmap: str = "gray", size: float = 2.6) -> Figure:
    """A row of images, each titled by its key; 2-D arrays drawn with ``cmap``."""
    fig, axes = plt.subplots(1, len(images), figsize=(size * len(images), size), squeeze=False)
    for ax, (title, image) in zip(axes[0], images.items()):
        ax.imshow(image, cmap=cmap if np.ndim(image) == 2 else None)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    return fig


def show_matrices(matrices: Mapping[str, np.ndarray], cmap: str = "coolwarm", width: float = 4.2) -> Figure:
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


def _box(ax: plt.Axes, box: Sequence[int], colour: str, label: str | None = None) -> None:
    x0, y0, x1, y1 = box
    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0 + 1, y1 - y0 + 1, fill=False, lw=2, ec=colour))
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
    _box(axes[1], single.boxes[0], CLASS_COLOURS[label])
    caption(axes[1], f'"{label}" + box')

    axes[2].imshow(several.image)
    for box, name in zip(several.boxes, several.labels):
        _box(axes[2], box, CLASS_COLOURS[name], name)
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
