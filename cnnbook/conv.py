"""Convolution, seen from several sides."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def conv_as_matrix(kernel: np.ndarray, height: int, width: int, stride: int = 1) -> np.ndarray:
    """The matrix ``M`` with ``M @ x.ravel() == conv(x).ravel()`` for every ``height x width`` image.

    A convolution (cross-correlation, no padding) is a fully connected layer whose weight matrix is
    mostly zeros and repeats the same few kernel values: this function builds that matrix by
    convolving each one-pixel image in turn, so row ``i`` lists the weights output ``i`` gives to
    every input pixel.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 2:
        raise ValueError(f"kernel must be 2-D (k, k), got shape {kernel.shape}")
    if kernel.shape[0] > height or kernel.shape[1] > width:
        raise ValueError(f"kernel {kernel.shape} does not fit in a {height}x{width} image")
    if stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride}")
    impulses = torch.eye(height * width, dtype=torch.float64).reshape(-1, 1, height, width)
    weight = torch.from_numpy(kernel)[None, None]
    responses = F.conv2d(impulses, weight, stride=stride)  # (pixels, 1, H_out, W_out)
    return responses.reshape(height * width, -1).T.numpy()
