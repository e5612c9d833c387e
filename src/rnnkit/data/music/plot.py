"""A piano-roll picture (PNG): time across in quarter notes, pitch up, bar lines dotted.

Drawn with matplotlib's Agg canvas directly (no pyplot, no global backend), so it works without a
display and never changes the plotting state of a program that imports rnnkit.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rnnkit.data.music.piece import Piece
from rnnkit.errors import RnnkitError
from rnnkit.files import write_with

PITCH_MARGIN = 2  # empty keys shown above and below the notes


def plot_piano_roll(piece: Piece, path: str | Path, title: str | None = None) -> Path:
    """Draw `piece` as a piano-roll PNG at `path` (all or nothing); returns the path."""
    if not piece.notes:
        raise RnnkitError(f"{piece.name} has no notes to draw")
    low = min(note.pitch for note in piece.notes) - PITCH_MARGIN
    high = max(note.pitch for note in piece.notes) + PITCH_MARGIN
    step = 1 / piece.steps_per_quarter  # quarter notes per grid step
    figure = Figure(figsize=(min(4 + piece.length * step / 4, 40), 3 + (high - low) / 12))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    rows: dict[int, list[tuple[float, float]]] = {}  # pitch -> (start, duration) in quarters
    for note in piece.notes:
        rows.setdefault(note.pitch, []).append((note.start * step, note.duration * step))
    for pitch, spans in rows.items():
        axes.broken_barh(spans, (pitch - 0.4, 0.8), facecolors="tab:blue")
    for bar in piece.bar_starts:
        axes.axvline(bar * step, color="0.7", linestyle=":", linewidth=0.8)
    axes.set_xlim(0, piece.length * step)
    axes.set_ylim(low, high)
    axes.set_xlabel("time (quarter notes)")
    axes.set_ylabel("MIDI pitch (60 = middle C)")
    axes.set_title(title or piece.name)
    figure.tight_layout()
    return write_with(path, lambda temp: figure.savefig(temp, format="png", dpi=100))
