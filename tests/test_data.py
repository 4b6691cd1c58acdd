import io

import numpy as np
import pytest
from PIL import Image

from cnnbook.data import SAMPLES, ImageLoadError, load_image, sample_image


def save(img: Image.Image, path, **kwargs):
    img.save(path, **kwargs)
    return path


@pytest.fixture
def gradient():
    """A 40x30 RGB image whose pixels differ, so orientation and channel mix-ups show."""
    y, x = np.mgrid[0:30, 0:40]
    return np.stack([x * 6, y * 8, (x + y) * 3], axis=-1).astype(np.uint8)


def test_jpeg_is_read_as_rgb(tmp_path, gradient):
    img = load_image(save(Image.fromarray(gradient), tmp_path / "a.jpg", quality=95))
    assert img.mode == "RGB" and img.size == (40, 30)
    assert np.abs(np.asarray(img, dtype=int) - gradient).mean() < 3


def test_png_alpha_is_composited_over_white(tmp_path):
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., 0] = 200  # red everywhere
    rgba[:2, :, 3] = 255  # top half opaque, bottom half fully transparent
    img = np.asarray(load_image(save(Image.fromarray(rgba, "RGBA"), tmp_path / "a.png")))
    assert (img[:2] == [200, 0, 0]).all()
    assert (img[2:] == [255, 255, 255]).all()


def test_grayscale_becomes_three_equal_channels(tmp_path, gradient):
    gray = Image.fromarray(gradient[..., 0])
    img = np.asarray(load_image(save(gray, tmp_path / "g.png")))
    assert img.shape == (30, 40, 3)
    assert (img[..., 0] == gradient[..., 0]).all() and (img[..., 0] == img[..., 2]).all()


def test_palette_with_transparency(tmp_path):
    pal = Image.new("P", (3, 1))
    pal.putpalette([0, 0, 255] + [0, 255, 0] * 255)
    pal.putpixel((0, 0), 0)
    pal.putpixel((1, 0), 1)
    pal.putpixel((2, 0), 1)
    path = save(pal, tmp_path / "p.png", transparency=1)
    img = np.asarray(load_image(path))
    assert (img[0, 0] == [0, 0, 255]).all()
    assert (img[0, 1] == [255, 255, 255]).all()  # transparent index shows the white background


def test_sixteen_bit_grayscale_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 32768, 65535]], dtype=np.uint16)
    path = save(Image.fromarray(values), tmp_path / "deep.png")
    with Image.open(path) as raw:
        assert raw.mode.startswith("I")  # really a 16-bit file
    img = np.asarray(load_image(path))
    assert list(img[0, :, 0]) == [0, 128, 255]


def test_cmyk_jpeg(tmp_path, gradient):
    cmyk = Image.fromarray(gradient).convert("CMYK")
    img = load_image(save(cmyk, tmp_path / "c.jpg", quality=95))
    assert img.mode == "RGB" and img.size == (40, 30)
    assert np.abs(np.asarray(img, dtype=int) - gradient).mean() < 12


def test_exif_orientation_is_applied(tmp_path, gradient):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = save(Image.fromarray(gradient), tmp_path / "phone.jpg", exif=exif, quality=95)
    img = load_image(path)
    assert img.size == (30, 40)


def test_missing_file(tmp_path):
    with pytest.raises(ImageLoadError, match=r"nope\.jpg: no such file"):
        load_image(tmp_path / "nope.jpg")


def test_directory(tmp_path):
    with pytest.raises(ImageLoadError, match="is a directory"):
        load_image(tmp_path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageLoadError, match=r"empty\.png: the file is empty"):
        load_image(path)


def test_text_file_is_not_an_image(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("these are my lecture notes, not a photo")
    with pytest.raises(ImageLoadError, match=r"notes\.jpg: not an image"):
        load_image(path)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_file(tmp_path, gradient, fmt):
    buffer = io.BytesIO()
    noisy = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    Image.fromarray(noisy).save(buffer, format=fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageLoadError, match=r"cut\.\w+: the image data is damaged or truncated"):
        load_image(path)


def test_decompression_bomb_is_refused(tmp_path, gradient, monkeypatch):
    path = save(Image.fromarray(gradient), tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 1,200 pixels is now "huge"
    with pytest.raises(ImageLoadError, match=r"bomb\.png: refused as a possible decompression bomb"):
        load_image(path)


def test_error_is_a_value_error(tmp_path):
    with pytest.raises(ValueError):
        load_image(tmp_path / "missing.png")


@pytest.mark.parametrize("name", list(SAMPLES))
def test_every_sample_loads_offline_with_its_source_and_licence(name):
    img = sample_image(name)
    assert img.mode == "RGB" and min(img.size) >= 200
    assert SAMPLES[name].source and SAMPLES[name].licence


def test_cat_sample_is_chelsea():
    import skimage.data

    assert (np.asarray(sample_image("cat")) == skimage.data.chelsea()).all()


def test_unknown_sample_lists_the_known_ones():
    with pytest.raises(KeyError, match="unknown sample image 'dog'.*cat"):
        sample_image("dog")
