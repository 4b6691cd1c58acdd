import json
import random
import shutil
import subprocess

import numpy as np
import pytest

from cnnbook import widgets
from cnnbook.conv import output_size

LECTURE_IMAGE = np.array([[int(c) for c in r] for r in "100001 010010 001100 100010 010010 001010".split()])
KERNELS = {"diagonal": np.array([[1, -1, -1], [-1, 1, -1], [-1, -1, 1]]), "vertical": np.array([[-1, 1, -1]] * 3)}


def test_explorer_figure_titles_show_the_shapes():
    fig = widgets.explorer_figure(LECTURE_IMAGE, KERNELS["diagonal"], stride=2, padding=1)
    assert [ax.get_title() for ax in fig.axes] == ["input 6x6, padding 1", "kernel", "output 3x3, stride 2"]


def test_explorer_redraws_when_a_control_changes(monkeypatch):
    calls = []
    real = widgets.explorer_figure
    monkeypatch.setattr(widgets, "explorer_figure", lambda *a: calls.append(a[2:]) or real(*a))
    box = widgets.conv_explorer(LECTURE_IMAGE, KERNELS)
    kernel, stride, padding = box.children[0].children
    stride.value = 2
    padding.value = 1
    kernel.value = "vertical"
    assert calls == [(1, 0), (2, 0), (2, 1), (2, 1)]


def test_explorer_explains_an_impossible_setting_and_draws_the_possible_ones():
    box = widgets.conv_explorer(np.ones((2, 2)), {"big": np.ones((3, 3))})
    _, message, picture = box.children
    assert "Not possible: kernel is 3 pixels" in message.value and picture.layout.display == "none"
    padding = box.children[0].children[2]
    padding.value = 1  # 4x4 with the padding: the 3x3 kernel fits
    assert message.value == "" and bytes(picture.value).startswith(b"\x89PNG") and picture.layout.display is None


def test_the_explorer_uses_no_output_widget():
    """An Output widget makes nbclient send every display back into the kernel (it hung a run)."""
    import ipywidgets

    box = widgets.conv_explorer(LECTURE_IMAGE, KERNELS)
    everything = [box, *box.children, *box.children[0].children]
    assert not any(isinstance(w, ipywidgets.Output) for w in everything)
    assert isinstance(box.children[2], ipywidgets.Image) and bytes(box.children[2].value).startswith(b"\x89PNG")


def test_calculator_embeds_the_formula_and_defaults():
    page = widgets.calculator_html(size=224, kernel=11, stride=4, padding=2)
    assert "function cnnbookOutputSize" in page
    assert 'name="size" value="224"' in page and 'name="padding" value="2"' in page


def test_the_calculator_works_the_formula_out_in_words_where_no_script_runs():
    bundle = widgets.calculator(size=27, kernel=3, stride=2, padding=0)._repr_mimebundle_()
    assert "function cnnbookOutputSize" in bundle["text/html"] and "image/png" not in bundle
    assert "(27 + 2*0 - 3)/2 + 1 = 13 -> floor: output size 13." in bundle["text/plain"]
    with pytest.raises(ValueError, match="stride must be a whole number >= 1, got 0"):
        widgets.calculator(stride=0)


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is needed to run the calculator's JavaScript")
def test_calculator_javascript_agrees_with_output_size(tmp_path):
    rng = random.Random(0)
    cases = [(224, 11, 4, 2, 1, False), (55, 3, 2, 0, 1, False), (4, 7, 1, 0, 1, False), (5, 3, 2, 0, 1, True)]
    cases += [(rng.randint(1, 60), rng.randint(1, 9), rng.randint(1, 5), rng.randint(0, 4), rng.randint(1, 3),
               rng.random() < 0.5) for _ in range(500)]
    cases += [(10.5, 3, 1, 0, 1, False), (10, 3, 0, 0, 1, False), (10, 3, 1, -1, 1, False)]
    script = tmp_path / "check.js"
    script.write_text(widgets.OUTPUT_SIZE_JS + f"""
const cases = {json.dumps(cases)};
console.log(JSON.stringify(cases.map(c => cnnbookOutputSize(...c))));
""")
    results = json.loads(subprocess.run(["node", str(script)], capture_output=True, text=True, check=True).stdout)
    refused = 0
    for case, result in zip(cases, results):
        try:
            expected = output_size(*case[:5], ceil_mode=case[5])
        except ValueError as err:
            # the page says what Python says, in the calculator's words (Python goes on to name the
            # type it got, or to suggest a remedy where the window does not fit)
            kind, *values = result["error"]
            said = widgets.CALCULATOR_WORDS[kind].format(*values)
            assert str(err).startswith(said if kind != "fit" else said.split(":")[0] + ":"), (case, said, str(err))
            refused += 1
            continue
        assert result == {"value": expected, "exact": pytest.approx((case[0] + 2 * case[3] - case[4] * (case[1] - 1) - 1) / case[2] + 1)}, case
    assert refused >= 4  # a window that does not fit, a fraction, a 0 stride, a negative padding
