"""ebmlib.interactive: the slider widget stores its first figure and redraws on change."""

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets
import matplotlib.pyplot as plt

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
