"""Interactive explorers: ipywidgets for a live kernel, plain HTML/JavaScript for the website.

Used by chapters 2 and 3.
"""

from __future__ import annotations

import html
import io
import json
import uuid
from typing import Mapping

import numpy as np
from matplotlib.figure import Figure

from . import checks
from . import words as wording
from .conv import output_size, output_size_unrounded
from .viz import WebOutput, conv_panels, draw_grid


def explorer_figure(image: np.ndarray, kernel: np.ndarray, stride: int, padding: int) -> Figure:
    """Input (with its padding shaded), kernel and feature map, with the output shape in the title."""
    image = np.asarray(image)
    fig, axes, result = conv_panels(image, kernel, stride, padding,
                                    f"input {image.shape[0]}x{image.shape[1]}, padding {padding}")
    draw_grid(axes[2], result, f"output {result.shape[0]}x{result.shape[1]}, stride {stride}")
    fig.tight_layout()
    return fig


def conv_explorer(image: np.ndarray, kernels: Mapping[str, np.ndarray], max_stride: int = 3, max_padding: int = 2):
    """An ipywidgets explorer: pick a kernel, a stride and a padding, and see the feature map.

    Needs a live Jupyter kernel; on a static page its controls would do nothing, so chapters show a
    pre-computed fallback instead. The figure is drawn into an ``Image`` widget (a PNG), not shown
    through an ``Output`` widget: an Output widget makes a notebook runner such as nbclient route
    every display back into the kernel, and with ipykernel 7 that run could hang on this cell.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    kernel = widgets.Dropdown(options=list(kernels), description="kernel")
    stride = widgets.IntSlider(value=1, min=1, max=max_stride, description="stride")
    padding = widgets.IntSlider(value=0, min=0, max=max_padding, description="padding")
    picture = widgets.Image(format="png")
    message = widgets.HTML()

    def update(change=None) -> None:
        try:
            fig = explorer_figure(image, kernels[kernel.value], stride.value, padding.value)
        except ValueError as err:  # for example a kernel larger than the padded image
            message.value = f"<p>Not possible: {html.escape(str(err))}</p>"
            picture.layout.display = "none"
            return
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80)
        plt.close(fig)
        picture.value, picture.layout.display, message.value = buffer.getvalue(), None, ""

    for control in (kernel, stride, padding):
        control.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([kernel, stride, padding]), message, picture])


#: The output-size formula in JavaScript, for the website's calculator (tested against Python). A
#: value it refuses comes back as ``{error: [kind, ...values]}``: the words are the page's
#: (:data:`CALCULATOR_WORDS`), which the Chinese edition translates.
OUTPUT_SIZE_JS = """
function cnnbookOutputSize(size, kernel, stride, padding, dilation, ceilMode) {
  const names = {size: [size, 1], kernel: [kernel, 1], stride: [stride, 1],
                 padding: [padding, 0], dilation: [dilation, 1]};
  for (const [name, [value, minimum]] of Object.entries(names)) {
    if (!Number.isInteger(value)) return {error: ["whole", name, value]};
    if (value < minimum) return {error: ["minimum", name, minimum, value]};
  }
  const span = dilation * (kernel - 1) + 1;
  const padded = size + 2 * padding;
  if (span > padded) return {error: ["fit", span, padded]};
  const exact = (padded - span) / stride + 1;
  let value = ceilMode ? Math.ceil((padded - span) / stride) + 1 : Math.floor((padded - span) / stride) + 1;
  if (ceilMode && (value - 1) * stride >= size + padding) value -= 1;
  return {value: value, exact: exact};
}
"""

#: What the calculator says. The refusals are the words of :func:`cnnbook.checks.whole` and
#: :func:`cnnbook.conv.output_size`, which the Python side uses; {0}, {1}, ... are filled in.
CALCULATOR_WORDS = {
    "size": "input size H",
    "kernel": "kernel size k",
    "stride": "stride s",
    "padding": "padding p",
    "dilation": "dilation d",
    "ceil": "ceil_mode (pooling)",
    "whole": "{0} must be a whole number, got {1}",
    "minimum": "{0} must be a whole number >= {1}, got {2}",
    "fit": "the window does not fit: it spans {0} pixels but the padded input has {1}",
    "impossible": "Not possible: {0}",
    "result": "{0} -> {1}: output size {2}",
    "label": "Output-size calculator",
}


def calculator_html(size: int = 224, kernel: int = 11, stride: int = 4, padding: int = 2,
                    words: Mapping[str, str] | None = None) -> str:
    """A self-contained HTML form that applies the output-size formula as the reader types, in the
    words ``words`` (:data:`CALCULATOR_WORDS` or its translation; by default, in the language
    :func:`cnnbook.words.speak` chose)."""
    words = wording.table(CALCULATOR_WORDS) if words is None else words
    size, kernel = checks.whole("size", size, 1), checks.whole("kernel", kernel, 1)
    stride, padding = checks.whole("stride", stride, 1), checks.whole("padding", padding, 0)
    uid = "cnnbook-calc-" + uuid.uuid4().hex[:8]
    fields = [("size", size, 1), ("kernel", kernel, 1), ("stride", stride, 1), ("padding", padding, 0),
              ("dilation", 1, 1)]
    inputs = "\n".join(
        f'<label style="margin-right:1em">{html.escape(words[name])} '
        f'<input type="number" name="{name}" value="{value}" min="{minimum}" step="1" style="width:5em"></label>'
        for name, value, minimum in fields
    )
    said = {key: words[key] for key in ("whole", "minimum", "fit", "impossible", "result")}
    page = f"""
<div id="{uid}" class="cnnbook-calculator" role="group" aria-label="{html.escape(words['label'])}" style="border:1px solid #ccc; border-radius:6px; padding:0.8em 1em;">
<form onsubmit="return false;">
{inputs}
<label><input type="checkbox" name="ceil"> {html.escape(words['ceil'])}</label>
</form>
<p class="cnnbook-calc-result" style="font-family:monospace; font-size:1.05em; margin:0.6em 0 0 0;"></p>
</div>
<script>
(function() {{
{OUTPUT_SIZE_JS}
  const words = {json.dumps(said, ensure_ascii=False)};
  const say = (template, ...values) => template.replace(/\\{{(\\d+)\\}}/g, (_, i) => values[Number(i)]);
  const root = document.getElementById({json.dumps(uid)});
  const form = root.querySelector("form");
  const result = root.querySelector(".cnnbook-calc-result");
  function update() {{
    const get = (name) => Number(form.elements[name].value);
    const v = {{size: get("size"), kernel: get("kernel"), stride: get("stride"), padding: get("padding"),
               dilation: get("dilation")}};
    const out = cnnbookOutputSize(v.size, v.kernel, v.stride, v.padding, v.dilation, form.elements["ceil"].checked);
    if (out.error) {{
      const [kind, ...values] = out.error;
      result.textContent = say(words.impossible, say(words[kind], ...values));
      return;
    }}
    const span = v.dilation === 1 ? String(v.kernel) : v.dilation + "*(" + v.kernel + "-1)+1";
    const rounded = form.elements["ceil"].checked ? "ceil" : "floor";
    const sum = "(" + v.size + " + 2*" + v.padding + " - " + span + ")/" + v.stride + " + 1 = " + (+out.exact.toFixed(4));
    result.textContent = say(words.result, sum, rounded, out.value);
  }}
  form.addEventListener("input", update);
  update();
}})();
</script>
"""
    return wording.wrap("calculator", {"size": size, "kernel": kernel, "stride": stride, "padding": padding}, page)


def calculator_again(args: dict, words: Mapping[str, str]) -> str:
    """The calculator :func:`calculator_html` wrapped with ``args``, written again with ``words``."""
    return calculator_html(**args, words=words)


def calculator(size: int = 224, kernel: int = 11, stride: int = 4, padding: int = 2) -> WebOutput:
    """The calculator for a chapter: the form on the web page and in a notebook, and where no
    script can run (the PDF) the formula worked out for the starting values, in words."""
    page = calculator_html(size, kernel, stride, padding)
    exact = output_size_unrounded(size, kernel, stride, padding)
    text = (f"Output-size calculator (it runs on the web page and in a notebook). For input size {size}, "
            f"kernel {kernel}, stride {stride} and padding {padding}: ({size} + 2*{padding} - {kernel})/{stride} "
            f"+ 1 = {exact:g} -> floor: output size {output_size(size, kernel, stride, padding)}.")
    return WebOutput(page, text=text)
