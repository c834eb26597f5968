"""ebmlib.interactive: the slider widget stores its first figure and redraws on change."""


import ipywidgets as widgets
import matplotlib.pyplot as plt
import pytest

from ebmlib import InvalidArgumentError
from ebmlib.interactive import slider_figure


def test_first_figure_is_in_the_widget_state_and_moves_redraw():
    calls = []

    def draw(value):
        calls.append(value)
        fig, ax = plt.subplots()
        ax.plot([0, value])
        return fig

    slider = widgets.FloatSlider(value=0.5, min=0, max=1)
    box = slider_figure(draw, slider)
    assert isinstance(box, widgets.VBox) and box.children[0] is slider
    out = box.children[1]
    assert len(out.outputs) == 1 and out.outputs[0]["data"]["image/png"]
    assert calls == [0.5]
    slider.value = 0.8
    assert calls == [0.5, 0.8]


def test_arguments_are_checked_and_named():
    slider = widgets.FloatSlider(value=0.5, min=0, max=1)
    with pytest.raises(InvalidArgumentError, match="argument 'draw': expected a function"):
        slider_figure("not a function", slider)
    with pytest.raises(InvalidArgumentError, match="argument 'slider': expected an ipywidgets slider"):
        slider_figure(lambda value: plt.figure(), 0.5)
    returns_axes = ("argument 'draw': expected a function that returns a matplotlib Figure, "
                    "received a function that returned Axes")
    with pytest.raises(InvalidArgumentError, match=returns_axes):
        slider_figure(lambda value: plt.subplots()[1], slider)
    plt.close("all")
