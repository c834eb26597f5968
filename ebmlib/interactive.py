"""Widgets for live notebooks that stay safe in headless runs.

``ipywidgets.interact`` captures the figure through an ``Output`` widget and a
``clear_output`` message; executed headless (Jupyter Book, nbval), that capture can
leave the notebook client waiting forever for a reply (jupyter/nbclient#312,
jupyter/nbconvert#2029). :func:`slider_figure` avoids it: the first figure is stored
in the widget's state directly, and the capture runs only when a reader moves the
slider in a live notebook.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from . import _validate as check


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def slider_figure(draw: Callable[[float], Figure], slider):
    """A slider above the figure ``draw(value)``; the figure is redrawn when it moves.

    Args:
        draw: returns a matplotlib figure for a value of the slider.
        slider: an ipywidgets slider (e.g. ``FloatLogSlider``); its value is drawn first.

    Returns:
        An ``ipywidgets.VBox`` holding the slider and the figure's ``Output``.
    """
    check.require(callable(draw), "draw", "a function value -> matplotlib Figure", type(draw).__name__)
    check.require(hasattr(slider, "value") and callable(getattr(slider, "observe", None)), "slider",
                  "an ipywidgets slider (with .value and .observe)", type(slider).__name__)
    import ipywidgets as widgets
    from IPython.display import clear_output, display

    out = widgets.Output()
    first = draw(slider.value)
    check.require(isinstance(first, Figure), "draw", "a function that returns a matplotlib Figure",
                  f"a function that returned {type(first).__name__}")
    out.outputs = ({"output_type": "display_data", "metadata": {},
                    "data": {"image/png": _png(first), "text/plain": repr(first)}},)

    def redraw(change) -> None:
        with out:
            clear_output(wait=True)
            fig = draw(change["new"])
            display(fig)
            plt.close(fig)

    slider.observe(redraw, names="value")
    return widgets.VBox([slider, out])
