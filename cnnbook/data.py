"""Images in: any common file as an RGB picture, and sample photos that work offline.

Used by the homework and chapters 1, 2, 4 to 7, 9 and 10.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError


class ImageLoadError(ValueError):
    """A file could not be read as an image; the message names the file and the problem."""


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB, compositing transparency over white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16- and 32-bit grayscale: Pillow's convert() would clip to 0..255, so rescale instead.
        values = np.asarray(img, dtype=np.float64)
        top = 255.0 if img.mode == "F" or values.max(initial=0) <= 255 else 65535.0
        gray = np.clip(np.rint(values / top * 255.0), 0, 255).astype(np.uint8)
        return Image.fromarray(gray, mode="L").convert("RGB")
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if has_alpha:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def load_image(path: str | Path) -> Image.Image:
    """Read an image file as an RGB PIL image, upright as its EXIF orientation says.

    JPEG, PNG (with or without alpha, palette, 8 or 16 bit), grayscale, CMYK, TIFF, BMP, GIF and
    WebP all work. A missing, empty, truncated or non-image file, or one so large that it looks like
    a decompression bomb, raises :class:`ImageLoadError` (a ``ValueError``) naming the file.
    """
    if not isinstance(path, (str, Path)) or not str(path):
        raise ImageLoadError(f"path must be the name of an image file, got {path!r}")
    path = Path(path)
    if not path.exists():
        raise ImageLoadError(f"{path}: no such file")
    if path.is_dir():
        raise ImageLoadError(f"{path}: is a directory, expected an image file")
    if path.stat().st_size == 0:
        raise ImageLoadError(f"{path}: the file is empty (0 bytes), expected an image")
    try:
        with warnings.catch_warnings():
            # Above Image.MAX_IMAGE_PIXELS Pillow only warns; treat that as the bomb it may be.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                img = ImageOps.exif_transpose(img)
                return _to_rgb(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageLoadError(
            f"{path}: refused as a possible decompression bomb ({err}); images up to "
            f"{Image.MAX_IMAGE_PIXELS} pixels are accepted"
        ) from err
    except UnidentifiedImageError as err:
        raise ImageLoadError(f"{path}: not an image file that Pillow can read") from err
    except (OSError, SyntaxError, ValueError) as err:
        # Pillow reports a cut-off file as OSError("image file is truncated ...").
        raise ImageLoadError(f"{path}: the image data is damaged or truncated ({err})") from err


@dataclass(frozen=True)
class Sample:
    """A sample photo that ships inside an installed package."""

    name: str
    description: str
    source: str
    licence: str
    _load: Callable[[], np.ndarray]

    def image(self) -> Image.Image:
        return Image.fromarray(self._load()).convert("RGB")


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()

    return load


def grace_hopper_path() -> Path:
    """The Grace Hopper portrait that matplotlib ships as sample data."""
    import matplotlib.cbook

    return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


SAMPLES: dict[str, Sample] = {
    sample.name: sample
    for sample in [
        Sample("cat", "Chelsea the cat", "scikit-image, skimage.data.chelsea()",
               "CC0, photographer Stefan van der Walt", _skimage("chelsea")),
        Sample("coffee", "A cup of coffee on a wooden table", "scikit-image, skimage.data.coffee()",
               "CC0, photographer Rachel Michetti", _skimage("coffee")),
        Sample("astronaut", "Astronaut Eileen Collins", "scikit-image, skimage.data.astronaut()",
               "public domain (NASA)", _skimage("astronaut")),
        Sample("rocket", "Falcon 9 launch carrying DSCOVR", "scikit-image, skimage.data.rocket()",
               "public domain (SpaceX)", _skimage("rocket")),
        Sample("grace_hopper", "Rear Admiral Grace Hopper",
               "matplotlib, mpl-data/sample_data/grace_hopper.jpg", "public domain (U.S. Navy)",
               lambda: np.asarray(load_image(grace_hopper_path()))),
    ]
}


def sample_image(name: str) -> Image.Image:
    """A sample photo by name (see :data:`SAMPLES`), as an RGB PIL image; needs no network."""
    if name not in SAMPLES:
        raise KeyError(f"unknown sample image {name!r}; available: {', '.join(SAMPLES)}")
    return SAMPLES[name].image()
