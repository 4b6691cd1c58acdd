"""The spreadsheets' formulas, evaluated here independently of openpyxl's (absent) cached values."""

import base64
import csv
import shutil
import subprocess
import io
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from openpyxl.utils.cell import range_boundaries

from cnnbook import spreadsheet
from cnnbook.conv import avg_pool2d, conv2d, max_pool2d

FORMULA = re.compile(r"^=(SUMPRODUCT|MAX|AVERAGE)\(([A-Z$0-9:]+)(?:,([A-Z$0-9:]+))?\)$")


def cells(sheet, ref: str) -> np.ndarray:
    min_col, min_row, max_col, max_row = range_boundaries(ref.replace("$", ""))
    return np.array([[sheet.cell(r, c).value for c in range(min_col, max_col + 1)]
                     for r in range(min_row, max_row + 1)], dtype=float)


def evaluate(sheet, formula: str) -> float:
    match = FORMULA.match(formula)
    assert match, f"unexpected formula {formula!r}"
    function, first, second = match.groups()
    if function == "SUMPRODUCT":
        return float(np.sum(cells(sheet, first) * cells(sheet, second)))
    return float(cells(sheet, first).max() if function == "MAX" else cells(sheet, first).mean())


def output_grid(book) -> np.ndarray:
    """Reload the saved file and evaluate every formula cell, laid out as in the sheet."""
    sheet = load_workbook(io.BytesIO(spreadsheet.xlsx_bytes(book))).active
    found = {(c.row, c.column): evaluate(sheet, c.value) for row in sheet.iter_rows() for c in row
             if isinstance(c.value, str) and c.value.startswith("=")}
    rows = sorted({r for r, _ in found})
    cols = sorted({c for _, c in found})
    return np.array([[found[(r, c)] for c in cols] for r in rows])


LECTURE_IMAGE = np.array([[int(c) for c in r] for r in "100001 010010 001100 100010 010010 001010".split()])
FILTER1 = np.array([[1, -1, -1], [-1, 1, -1], [-1, -1, 1]])


@pytest.mark.parametrize("stride", [1, 2])
def test_lecture_example_formulas_give_the_feature_map(stride):
    book = spreadsheet.conv_workbook(LECTURE_IMAGE, FILTER1, stride=stride)
    np.testing.assert_array_equal(output_grid(book), conv2d(LECTURE_IMAGE, FILTER1, stride))


@settings(max_examples=40, deadline=None)
@given(st.integers(3, 8), st.integers(3, 8), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2),
       st.integers(0, 999))
def test_conv_formulas_match_conv2d(height, width, k, stride, padding, seed):
    rng = np.random.default_rng(seed)
    image, kernel = rng.integers(-3, 4, (height, width)), rng.integers(-2, 3, (k, k))
    book = spreadsheet.conv_workbook(image, kernel, stride, padding)
    np.testing.assert_allclose(output_grid(book), conv2d(image, kernel, stride, padding))


def test_editing_the_kernel_changes_what_the_formulas_compute():
    book = spreadsheet.conv_workbook(LECTURE_IMAGE, FILTER1)
    sheet = book.active
    kernel_cells = [c for row in sheet.iter_rows() for c in row if c.fill.fgColor.rgb.endswith("FFF2CC")]
    assert len(kernel_cells) == 9
    for cell, value in zip(kernel_cells, np.ones(9)):
        cell.value = value
    np.testing.assert_array_equal(output_grid(book), conv2d(LECTURE_IMAGE, np.ones((3, 3))))


@pytest.mark.parametrize("mode, pool", [("max", max_pool2d), ("average", avg_pool2d)])
def test_pool_formulas_match(mode, pool):
    fmap = conv2d(LECTURE_IMAGE, FILTER1)
    book = spreadsheet.pool_workbook(fmap, 2, mode=mode)
    np.testing.assert_allclose(output_grid(book), pool(fmap, 2))


def test_padding_is_shown_as_shaded_zeros():
    sheet = spreadsheet.conv_workbook(np.ones((3, 3)), np.ones((3, 3)), padding=1).active
    shaded = [c.value for row in sheet.iter_rows() for c in row if c.fill.fgColor.rgb.endswith("DDDDDD")]
    assert shaded == [0] * 16


def test_downloads_embed_both_files():
    links = spreadsheet.conv_downloads("six-by-six", LECTURE_IMAGE, FILTER1)
    page = links._repr_html_()
    xlsx = re.search(r'download="six-by-six.xlsx" href="data:[^;]+;base64,([^"]+)"', page).group(1)
    csv = re.search(r'download="six-by-six.csv" href="data:text/csv;base64,([^"]+)"', page).group(1)
    assert load_workbook(io.BytesIO(base64.b64decode(xlsx))).active["A1"].value == "Convolution"
    text = base64.b64decode(csv).decode()
    assert text.startswith("input\n1,0,0,0,0,1\n") and "feature map\n3,-1,-3,-1\n" in text


def test_where_links_cannot_work_the_downloads_say_where_to_find_the_files():
    """The PDF and a plain-text notebook view show text/plain: words, not a Python repr."""
    from IPython.core.formatters import DisplayFormatter

    shown, _ = DisplayFormatter().format(spreadsheet.conv_downloads("six-by-six", LECTURE_IMAGE, FILTER1))
    assert set(shown) == {"text/html", "text/plain"}
    assert shown["text/plain"].startswith("Verify it in a spreadsheet: six-by-six.xlsx (live formulas) and six-by-six.csv")
    assert "Downloads(" not in shown["text/plain"]


def test_bad_input_is_explained():
    with pytest.raises(ValueError, match="image must be a 2-D grid"):
        spreadsheet.conv_workbook(np.ones((2, 4, 4)), np.ones((2, 3, 3)))
    with pytest.raises(ValueError, match="mode must be 'max' or 'average'"):
        spreadsheet.pool_workbook(np.ones((4, 4)), 2, mode="min")
    with pytest.raises(ValueError, match="kernel is 5 pixels"):
        spreadsheet.conv_workbook(np.ones((3, 3)), np.ones((5, 5)))


@pytest.mark.skipif(not (shutil.which("soffice") or shutil.which("libreoffice")),
                    reason="LibreOffice is not installed; it recalculates the workbook independently")
def test_libreoffice_recalculates_the_formulas_to_the_feature_map(tmp_path):
    """Open the workbook in a real spreadsheet program and read back what it computed."""
    path = tmp_path / "example.xlsx"
    path.write_bytes(spreadsheet.xlsx_bytes(spreadsheet.conv_workbook(LECTURE_IMAGE, FILTER1, padding=1)))
    office = shutil.which("soffice") or shutil.which("libreoffice")
    subprocess.run([office, "--headless", f"-env:UserInstallation=file://{tmp_path}/profile",
                    "--convert-to", "csv", "--outdir", str(tmp_path), str(path)],
                   check=True, capture_output=True, timeout=180)
    rows = list(csv.reader((tmp_path / "example.csv").read_text().splitlines()))
    header = next(i for i, row in enumerate(rows) if "feature map" in row)
    column = rows[header].index("feature map")
    expected = conv2d(LECTURE_IMAGE, FILTER1, padding=1)
    got = [[float(v) for v in row[column:column + expected.shape[1]]]
           for row in rows[header + 1:header + 1 + expected.shape[0]]]
    np.testing.assert_array_equal(got, expected)
