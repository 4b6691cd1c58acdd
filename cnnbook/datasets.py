"""Offline data: real handwritten digits (scikit-learn ships them) and generated shape scenes.

Used by the preface and chapters 1 and 7 to 10.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from . import checks


@dataclass
class Split:
    """Images ``(N, 1, H, W)`` in [0, 1] with integer labels ``(N,)``, split into train and test."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


def digits(size: int = 16, canvas: int = 24, test_fraction: float = 1 / 3, seed: int = 0) -> Split:
    """scikit-learn's 1,797 handwritten digits, upsampled to ``size`` and centred on a blank canvas.

    The original scans are 8x8 with 17 grey levels. Upsampling (bilinear) and the empty margin of
    ``(canvas - size) // 2`` pixels leave room to shift a digit without cutting it off (see
    :func:`shift`). The split is stratified by class and fixed by ``seed``.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    size, canvas = checks.whole("size", size, 8), checks.whole("canvas", canvas, 8)
    if canvas < size:
        raise ValueError(f"need 8 <= size <= canvas, got size={size}, canvas={canvas}")
    test_fraction = checks.number("test_fraction", test_fraction, low=0, high=1, low_open=True, high_open=True)
    bunch = load_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    margin = (canvas - size) // 2
    images = F.pad(images, (margin, canvas - size - margin, margin, canvas - size - margin))
    labels = torch.tensor(bunch.target, dtype=torch.long)
    train_idx, test_idx = train_test_split(
        np.arange(len(labels)), test_size=test_fraction, random_state=seed, stratify=bunch.target
    )
    return Split(images[train_idx], labels[train_idx], images[test_idx], labels[test_idx])


def shift(images: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Move every image ``dx`` pixels right and ``dy`` down, filling the vacated border with 0."""
    dx, dy = checks.whole("dx", dx, None), checks.whole("dy", dy, None)
    if not isinstance(images, torch.Tensor) or images.ndim < 2:
        raise ValueError(f"images must be a tensor (..., H, W), got {type(images).__name__} "
                         f"{tuple(getattr(images, 'shape', ()))}")
    height, width = images.shape[-2:]
    if abs(dx) >= width or abs(dy) >= height:
        raise ValueError(f"shift ({dx}, {dy}) moves a {height}x{width} image out of view")
    out = torch.zeros_like(images)
    src_y = slice(max(0, -dy), height - max(0, dy))
    dst_y = slice(max(0, dy), height - max(0, -dy))
    src_x = slice(max(0, -dx), width - max(0, dx))
    dst_x = slice(max(0, dx), width - max(0, -dx))
    out[..., dst_y, dst_x] = images[..., src_y, src_x]
    return out


SHAPES = ("square", "disk", "triangle")


@dataclass
class Scene:
    """A generated picture with the ground truth of every object in it."""

    image: np.ndarray  # (H, W, 3) float in [0, 1]
    labels: list[str]  # one of SHAPES per object
    boxes: np.ndarray  # (n, 4) int: x0, y0, x1, y1, inclusive pixel bounds of each object
    masks: np.ndarray  # (n, H, W) bool, the object's pixels (later objects drawn on top)


def _shape_mask(kind: str, size: int, cx: float, cy: float, r: float) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size] + 0.5
    if kind == "square":
        return (np.abs(x - cx) <= r) & (np.abs(y - cy) <= r)
    if kind == "disk":
        return (x - cx) ** 2 + (y - cy) ** 2 <= r**2
    if kind == "triangle":  # pointing up, apex at (cx, cy - r), base at y = cy + r
        inside_base = y <= cy + r
        left = (y - (cy - r)) >= 2 * (cx - x)
        right = (y - (cy - r)) >= 2 * (x - cx)
        return inside_base & left & right
    raise ValueError(f"unknown shape {kind!r}; expected one of {SHAPES}")


def shapes_scene(size: int = 96, n_objects: int = 3, seed: int = 0, noise: float = 0.05) -> Scene:
    """A noisy background with ``n_objects`` non-overlapping squares, disks and triangles.

    Shapes, sizes, places and colours are random (fixed by ``seed``); every object's label, tight
    bounding box and pixel mask come back with the image, so the picture can serve classification,
    localisation, detection and both kinds of segmentation.
    """
    size, n_objects = checks.whole("size", size, 8), checks.whole("n_objects", n_objects, 1)
    noise = checks.number("noise", noise, low=0, high=1)
    rng = np.random.default_rng(seed)
    image = np.clip(0.15 + noise * rng.standard_normal((size, size, 3)), 0, 1)
    occupied = np.zeros((size, size), dtype=bool)
    labels: list[str] = []
    masks: list[np.ndarray] = []
    for _ in range(1000 * n_objects):
        if len(labels) == n_objects:
            break
        kind = SHAPES[rng.integers(len(SHAPES))]
        r = rng.uniform(0.08, 0.16) * size
        cx, cy = rng.uniform(r + 1, size - r - 1, size=2)
        mask = _shape_mask(kind, size, cx, cy, r)
        grown = _shape_mask("square", size, cx, cy, r + 2)  # keep a small gap between objects
        if (grown & occupied).any() or mask.sum() < 4:
            continue
        colour = rng.uniform(0.45, 1.0, size=3)
        image[mask] = np.clip(colour + noise * rng.standard_normal((int(mask.sum()), 3)), 0, 1)
        occupied |= grown
        labels.append(kind)
        masks.append(mask)
    if len(labels) < n_objects:
        raise ValueError(f"could not place {n_objects} objects on a {size}x{size} image")
    boxes = np.array(
        [[xs.min(), ys.min(), xs.max(), ys.max()] for ys, xs in (np.nonzero(m) for m in masks)]
    )
    return Scene(image=image, labels=labels, boxes=boxes, masks=np.stack(masks))


@dataclass
class Shapes:
    """One object per image: ``images (N, 3, H, W)`` in [0, 1], ``labels (N,)`` indexing
    :data:`SHAPES`, and ``boxes (N, 4)`` (x0, y0, x1, y1, inclusive)."""

    images: torch.Tensor
    labels: torch.Tensor
    boxes: torch.Tensor


def shapes(n: int, size: int = 32, seed: int = 0) -> Shapes:
    """``n`` generated pictures, each with one square, disk or triangle at a random place, size and
    colour on a noisy background, with its label and bounding box (see :func:`shapes_scene`)."""
    n, size = checks.whole("n", n, 1), checks.whole("size", size, 8)
    rng = np.random.default_rng(seed)
    scenes = [shapes_scene(size=size, n_objects=1, seed=int(s)) for s in rng.integers(0, 2**31, size=n)]
    images = torch.tensor(np.stack([s.image for s in scenes]), dtype=torch.float32).permute(0, 3, 1, 2)
    labels = torch.tensor([SHAPES.index(s.labels[0]) for s in scenes])
    boxes = torch.tensor(np.stack([s.boxes[0] for s in scenes]))
    return Shapes(images.contiguous(), labels, boxes)
