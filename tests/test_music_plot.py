"""The piano-roll picture."""

import pytest
from matplotlib.image import imread

from rnnkit.data.music.piece import Note, Piece
from rnnkit.data.music.plot import plot_piano_roll
from rnnkit.errors import RnnkitError


def test_plot_writes_a_png(tmp_path):
    piece = Piece("tune", (Note(0, 60, 2), Note(2, 64, 2), Note(0, 48, 4)), 2, 4, (0,))
    path = plot_piano_roll(piece, tmp_path / "roll.png", title="a tune")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert image[..., :3].std() > 0  # not a blank canvas
    assert [p.name for p in tmp_path.iterdir()] == ["roll.png"]  # no partial file left behind


def test_plot_of_an_empty_piece_fails_clearly(tmp_path):
    with pytest.raises(RnnkitError, match="no notes to draw"):
        plot_piano_roll(Piece("silence", (), 1, 4), tmp_path / "roll.png")
    assert not (tmp_path / "roll.png").exists()
