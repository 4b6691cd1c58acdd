"""Worked examples as spreadsheets whose output cells are live formulas ("verify it in Excel").
Used by chapters 2 and 4.

In the workbook the input and the kernel are ordinary cells and every cell of the feature map is a
formula over its window (``=SUMPRODUCT(window, kernel)`` for a convolution, ``=MAX(window)`` or
``=AVERAGE(window)`` for pooling), so editing a number in Excel or LibreOffice updates the map.
"""

from __future__ import annotations

import base64
import csv
import html
import io

import numpy as np
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from . import checks
from .conv import avg_pool2d, conv2d, max_pool2d

_PADDING_FILL = PatternFill("solid", fgColor="DDDDDD")
_KERNEL_FILL = PatternFill("solid", fgColor="FFF2CC")
_OUTPUT_FILL = PatternFill("solid", fgColor="DDEBF7")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _cell(row: int, col: int, absolute: bool = False) -> str:
    letter = get_column_letter(col)
    return f"${letter}${row}" if absolute else f"{letter}{row}"


def _range(top: int, left: int, height: int, width: int, absolute: bool = False) -> str:
    return f"{_cell(top, left, absolute)}:{_cell(top + height - 1, left + width - 1, absolute)}"


def _block(sheet, top: int, left: int, values: np.ndarray, label: str, fill=None, pad: int = 0) -> None:
    """Write a labelled grid of numbers; the outer ``pad`` rings are shaded as padding."""
    sheet.cell(top - 1, left, label).font = Font(bold=True)
    for i, row in enumerate(values):
        for j, value in enumerate(row):
            cell = sheet.cell(top + i, left + j, float(value) if not float(value).is_integer() else int(value))
            cell.alignment = Alignment(horizontal="center")
            in_padding = pad and not (pad <= i < values.shape[0] - pad and pad <= j < values.shape[1] - pad)
            if in_padding:
                cell.fill = _PADDING_FILL
            elif fill is not None:
                cell.fill = fill


def _formulas(sheet, label: str, top: int, left: int, output_left: int, shape: tuple[int, int], stride: int,
              window: tuple[int, int], formula) -> None:
    """The output block: cell (i, j) gets ``formula(range of its window over the input)``."""
    sheet.cell(top - 1, output_left, label).font = Font(bold=True)
    for i in range(shape[0]):
        for j in range(shape[1]):
            cell = sheet.cell(top + i, output_left + j, formula(_range(top + i * stride, left + j * stride, *window)))
            cell.fill, cell.alignment = _OUTPUT_FILL, Alignment(horizontal="center")


def _check_2d(name: str, array: object) -> np.ndarray:
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D grid of numbers for a spreadsheet, got shape {array.shape}")
    checks.finite(name, array)
    return array


def _new_sheet(title: str, note: str):
    book = Workbook()
    sheet = book.active
    sheet.title = "example"
    sheet["A1"] = title
    sheet["A1"].font = Font(bold=True, size=13)
    sheet["A2"] = note
    return book, sheet


def conv_workbook(image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: int = 0,
                  title: str = "Convolution") -> Workbook:
    """A workbook for ``conv2d(image, kernel, stride, padding)`` with a live formula per output."""
    image, kernel = _check_2d("image", image), _check_2d("kernel", kernel)
    expected = conv2d(image, kernel, stride, padding)  # also validates the arguments
    padded = np.pad(image, padding)
    book, sheet = _new_sheet(
        title,
        f"Stride {stride}, padding {padding}. Change any input or kernel value (yellow): every output "
        "cell (blue) is =SUMPRODUCT(its window of the input, the kernel).",
    )
    top, left = 5, 2
    kernel_left = left + padded.shape[1] + 2
    output_left = kernel_left + kernel.shape[1] + 2
    _block(sheet, top, left, padded, "input" + (" (grey: zero padding)" if padding else ""), pad=padding)
    _block(sheet, top, kernel_left, kernel, "kernel", fill=_KERNEL_FILL)
    kernel_range = _range(top, kernel_left, *kernel.shape, absolute=True)
    _formulas(sheet, "feature map", top, left, output_left, expected.shape, stride, kernel.shape,
              lambda window: f"=SUMPRODUCT({window},{kernel_range})")
    return book


def pool_workbook(feature_map: np.ndarray, kernel: int, stride: int | None = None, mode: str = "max",
                  title: str = "Pooling") -> Workbook:
    """A workbook for max or average pooling with a live ``=MAX``/``=AVERAGE`` formula per output."""
    feature_map = _check_2d("feature_map", feature_map)
    functions = {"max": ("MAX", max_pool2d), "average": ("AVERAGE", avg_pool2d)}
    if mode not in functions:
        raise ValueError(f"mode must be 'max' or 'average', got {mode!r}")
    function, pool = functions[mode]
    stride = kernel if stride is None else stride
    expected = pool(feature_map, kernel, stride)  # validates kernel and stride
    kernel, stride = checks.whole("kernel", kernel, 1), checks.whole("stride", stride, 1)
    book, sheet = _new_sheet(
        title, f"{kernel}x{kernel} windows, stride {stride}: every output cell (blue) is ={function}(its window)."
    )
    top, left = 5, 2
    output_left = left + feature_map.shape[1] + 2
    _block(sheet, top, left, feature_map, "feature map")
    _formulas(sheet, f"{mode} pooled", top, left, output_left, expected.shape, stride, (kernel, kernel),
              lambda window: f"={function}({window})")
    return book


def xlsx_bytes(book: Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def csv_text(blocks: dict[str, np.ndarray]) -> str:
    """Named grids of numbers, one after the other, as CSV (values only: CSV holds no formulas)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for name, values in blocks.items():
        writer.writerow([name])
        for row in np.asarray(values):
            writer.writerow([f"{v:g}" for v in row])
        writer.writerow([])
    return out.getvalue()


class Downloads:
    """Download links for a worked example, embedded in the page itself (no server, no files)."""

    def __init__(self, name: str, book: Workbook, blocks: dict[str, np.ndarray]):
        self.name = name
        self.xlsx = xlsx_bytes(book)
        self.csv = csv_text(blocks)

    def _repr_html_(self) -> str:
        xlsx = base64.b64encode(self.xlsx).decode()
        csv_data = base64.b64encode(self.csv.encode()).decode()
        name = html.escape(self.name)
        return (
            f'<p class="cnnbook-downloads">Verify it in a spreadsheet: '
            f'<a download="{name}.xlsx" href="data:{XLSX_MIME};base64,{xlsx}">{name}.xlsx</a> '
            f"(live formulas; change a number and the result updates) or "
            f'<a download="{name}.csv" href="data:text/csv;base64,{csv_data}">{name}.csv</a> '
            f"(values only).</p>"
        )

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        # what a notebook shows where it cannot show the links, and what the PDF prints
        printer.text(f"Verify it in a spreadsheet: {self.name}.xlsx (live formulas) and {self.name}.csv "
                     "(values only), to download from this example's page on the book's website.")

    def __repr__(self) -> str:
        return f"Downloads({self.name}.xlsx, {self.name}.csv)"


def conv_downloads(name: str, image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: int = 0,
                   title: str = "Convolution") -> Downloads:
    """Links to ``name.xlsx`` (live formulas) and ``name.csv`` for one convolution example."""
    book = conv_workbook(image, kernel, stride, padding, title)
    result = conv2d(image, kernel, stride, padding)
    return Downloads(name, book, {"input": np.asarray(image), "kernel": np.asarray(kernel), "feature map": result})


def pool_downloads(name: str, feature_map: np.ndarray, kernel: int, stride: int | None = None, mode: str = "max",
                   title: str = "Pooling") -> Downloads:
    """Links to ``name.xlsx`` (live formulas) and ``name.csv`` for one pooling example."""
    book = pool_workbook(feature_map, kernel, stride, mode, title)
    pool = max_pool2d if mode == "max" else avg_pool2d
    result = pool(np.asarray(feature_map, dtype=float), kernel, stride)
    return Downloads(name, book, {"feature map": np.asarray(feature_map), f"{mode} pooled": result})
