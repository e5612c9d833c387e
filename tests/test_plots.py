"""rnnkit.studies.plots: both plots decode as images of the documented size, also when a gradient
underflowed to 0 (log axes cannot show 0)."""

import io

import matplotlib.image

from compare_results import LECTURE, made
from rnnkit.studies.plots import gradient_flow_png, memory_png


def pixels(png: bytes):
    return matplotlib.image.imread(io.BytesIO(png), format="png")


def test_plots_decode_and_are_not_blank():
    results = made({"rnn": (0.0, 1e-30), "lstm": (1e-2, 1e-3)}, LECTURE)
    for png in (gradient_flow_png(results), memory_png(results)):
        image = pixels(png)
        assert image.shape[:2] == (400, 1100)  # 11 x 4 inches at 100 dpi
        assert image[..., :3].std() > 0.05
