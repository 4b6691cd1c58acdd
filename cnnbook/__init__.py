"""Helpers for cnnbook, an executable teaching book on convolutional neural networks."""

__version__ = "0.1.0"
