"""Report figures: titles stay inside the figure with one panel and with many."""

from __future__ import annotations

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from actbench import figures as F


@pytest.mark.parametrize("panels", [1, 2, 3, 6])
def test_figure_title_fits_the_panel_row(panels: int) -> None:
    fig, _ = F._panels(panels)
    title = f"learned activations h(v) on v in [{F.V_RANGE[0]:g}, {F.V_RANGE[1]:g}] (mean a over seeds)"
    F._suptitle(fig, title, panels)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    box = fig._suptitle.get_window_extent(canvas.get_renderer())
    assert box.x0 >= 0 and box.x1 <= fig.bbox.width, (box, fig.bbox)
    assert fig._suptitle.get_text().replace("\n", " ") == title  # wrapped, never shortened
