"""Report figures: titles stay inside the figure with one panel and with many."""

from __future__ import annotations

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from actbench.report import figures as F


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


def test_vector_parameters_share_a_panel_in_index_order() -> None:
    """PAU logs p[0]..p[5] and q[0]..q[3] per layer: one panel per layer and vector, not one per element."""
    keys = [("conv1", f"p[{i}]") for i in (10, 2, 0, 1)] + [("conv1", "q[0]"), ("conv2", "a")]
    assert F.learned_panels(keys) == {
        ("conv1", "p"): ["p[0]", "p[1]", "p[2]", "p[10]"],
        ("conv1", "q"): ["q[0]"],
        ("conv2", "a"): ["a"],
    }


def test_learned_figure_of_a_vector_parameter(tmp_path) -> None:
    from actbench.report.build import build_report
    from actbench.training import loop as T
    from tests.factories import tiny_config

    T.run_training(T.create_run(tiny_config("activation.name=pau"), tmp_path / "runs", "pau"))
    report = build_report([tmp_path / "runs"])
    assert F.plot_learned(report, tmp_path / "learned_a.png") == tmp_path / "learned_a.png"
    assert (tmp_path / "learned_a.png").stat().st_size > 0


def test_learned_shapes_of_a_unit_whose_parameter_is_not_a(tmp_path) -> None:
    """Swish-beta learns `beta`: the shape figure draws each layer's learned beta, labelled beta (it read
    only a parameter named `a`, so it drew the initial curve alone, labelled a=)."""
    from actbench.report.build import build_report
    from actbench.training import loop as T
    from tests.factories import tiny_config

    T.run_training(T.create_run(tiny_config("activation.name=swish_beta"), tmp_path / "runs", "sb"))
    report = build_report([tmp_path / "runs"])
    values, name = F._shape_values(report.rows[0])
    assert name == "beta" and set(values) > {"init"}, values
    path, warnings = F.plot_shapes(report, tmp_path / "shapes.png")
    assert path == tmp_path / "shapes.png" and warnings == []
