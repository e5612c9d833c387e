"""Evaluation beyond loss: simple statistics that tell music from noise.

Per piece (notes counted at their onsets, a chord counts each of its notes):

    pitch-class histogram   h[c] = number of notes with pitch % 12 == c           (c = 0 is C)
    polyphony               mean number of sounding notes over the steps where anything sounds
    note density            notes per quarter note = number of notes / (length / steps per quarter)
    in-key fraction         the fraction of notes whose pitch class is in the scale of the key that
                            the Krumhansl-Schmuckler algorithm finds for the piece
    triads, sevenths        the shares of the sounding steps whose pitch classes are exactly a
                            major or minor triad, or a seventh chord (rnnkit.data.music.chords)

Key finding (Krumhansl 1990): with d[c] the total duration of pitch class c and P the
Krumhansl-Kessler major or minor profile rotated to tonic t, the key is the (t, mode) with the
largest Pearson correlation r(d, P). The major scale is {0, 2, 4, 5, 7, 9, 11} above the tonic;
the minor scale is natural minor plus the raised leading tone, {0, 2, 3, 5, 7, 8, 10, 11}, because
minor-key music (Bach's above all) uses the leading tone as a matter of course.

For a collection: the histogram is pooled over all notes and normalised to sum 1; polyphony, note
density, in-key fraction and the chord shares are means over pieces (pieces without notes are left
out of the in-key and chord means, which are undefined for them). Two collections' histograms p
and q are compared by their total variation distance, 0 for the same distribution and 1 for
disjoint ones:

    D(p, q) = 1/2 * sum_c |p[c] - q[c]|
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.data.music.chords import chord_shares
from rnnkit.data.music.corpus import read_music_folder
from rnnkit.data.music.piece import Piece

PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10, 11)}


@dataclass(frozen=True)
class PieceStats:
    """The statistics of one piece (see the module docstring)."""

    pitch_classes: tuple[float, ...]  # 12 note counts per pitch class, C first
    polyphony: float  # mean number of sounding notes over the steps where something sounds
    note_density: float  # notes per quarter note
    in_key: float  # fraction of notes in the scale of `key`; nan without notes
    key: str  # the key found, e.g. "G major" ("" without notes)
    triads: float  # share of sounding steps that are a major or minor triad; nan without notes
    sevenths: float  # share of sounding steps that are a seventh chord; nan without notes


@dataclass(frozen=True)
class CollectionStats:
    """The statistics of a collection of pieces."""

    pieces: int  # number of pieces
    pitch_class_histogram: tuple[float, ...]  # 12 shares pooled over all notes, sum 1 (0s if none)
    polyphony: float  # mean over pieces
    note_density: float  # mean over pieces
    in_key: float  # mean over pieces with notes; nan if none has any
    triads: float  # mean over pieces with notes; nan if none has any
    sevenths: float  # mean over pieces with notes; nan if none has any


@dataclass(frozen=True)
class Comparison:
    """Generated pieces beside reference (training) pieces."""

    generated: CollectionStats
    reference: CollectionStats
    pitch_class_distance: float  # D(generated histogram, reference histogram), 0..1


def pitch_class_counts(piece: Piece, weight_by_duration: bool = False) -> np.ndarray:
    """(12,) number of notes (or total duration in steps) of each pitch class, C first."""
    counts = np.zeros(12)
    for note in piece.notes:
        counts[note.pitch % 12] += note.duration if weight_by_duration else 1
    return counts


def estimate_key(piece: Piece) -> tuple[int, str]:
    """The Krumhansl-Schmuckler key of a piece: (tonic pitch class, "major" or "minor")."""
    durations = pitch_class_counts(piece, weight_by_duration=True)
    best, best_r = (0, "major"), -np.inf
    for mode, profile in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
        for tonic in range(12):
            r = _pearson(durations, np.roll(profile, tonic))  # profile[0] moves to the tonic
            if r > best_r:
                best, best_r = (tonic, mode), r
    return best


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation; 0 when x is flat.

    r = sum (x - mean x)(y - mean y) / sqrt(sum (x - mean x)^2 * sum (y - mean y)^2)
    """
    dx, dy = x - x.mean(), y - y.mean()
    denominator = np.sqrt((dx * dx).sum() * (dy * dy).sum())
    return float((dx * dy).sum() / denominator) if denominator > 0 else 0.0


def piece_stats(piece: Piece) -> PieceStats:
    """The statistics of one piece (see the module docstring)."""
    counts = pitch_class_counts(piece)
    if not piece.notes:
        nan = float("nan")
        return PieceStats(tuple(counts.tolist()), 0.0, 0.0, nan, "", nan, nan)
    sounding = np.zeros(piece.length)
    for note in piece.notes:
        sounding[note.start : note.end] += 1
    tonic, mode = estimate_key(piece)
    scale = [(tonic + degree) % 12 for degree in SCALES[mode]]
    triads, sevenths = chord_shares(piece)
    return PieceStats(
        pitch_classes=tuple(counts.tolist()),
        polyphony=float(sounding[sounding > 0].mean()),
        note_density=len(piece.notes) / (piece.length / piece.steps_per_quarter),
        in_key=float(counts[scale].sum() / counts.sum()),
        key=f"{PITCH_CLASS_NAMES[tonic]} {mode}",
        triads=triads,
        sevenths=sevenths,
    )


def collection_stats(pieces: Sequence[Piece]) -> CollectionStats:
    """The statistics of a collection (see the module docstring)."""
    each = [piece_stats(piece) for piece in pieces]
    counts = sum((np.array(stats.pitch_classes) for stats in each), np.zeros(12))
    with_notes = [stats for stats in each if not np.isnan(stats.in_key)]
    return CollectionStats(
        pieces=len(each),
        pitch_class_histogram=tuple((counts / max(counts.sum(), 1)).tolist()),
        polyphony=float(np.mean([stats.polyphony for stats in each])) if each else 0.0,
        note_density=float(np.mean([stats.note_density for stats in each])) if each else 0.0,
        in_key=_mean([stats.in_key for stats in with_notes]),
        triads=_mean([stats.triads for stats in with_notes]),
        sevenths=_mean([stats.sevenths for stats in with_notes]),
    )


def _mean(values: list[float]) -> float:
    """The mean; nan for no values."""
    return float(np.mean(values)) if values else float("nan")


def pitch_class_distance(p: Sequence[float], q: Sequence[float]) -> float:
    """Total variation distance D(p, q) = 1/2 sum_c |p[c] - q[c]| of two (12,) histograms."""
    return float(0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum())


def compare(generated: Sequence[Piece], reference: Sequence[Piece]) -> Comparison:
    """The statistics of generated pieces beside those of reference pieces."""
    ours, theirs = collection_stats(generated), collection_stats(reference)
    distance = pitch_class_distance(ours.pitch_class_histogram, theirs.pitch_class_histogram)
    return Comparison(ours, theirs, distance)


def compare_folder(
    folder: str | Path, reference: Sequence[Piece], grid: str = "quarter"
) -> Comparison:
    """`compare` the MIDI (or other music) files in `folder`, read on `grid`, with `reference`."""
    generated = read_music_folder(folder, grid, cache=False, progress=False)
    return compare(generated, reference)


def format_comparison(comparison: Comparison) -> str:
    """A small table for the terminal."""
    ours, theirs = comparison.generated, comparison.reference
    rows = [
        ("pieces", f"{ours.pieces}", f"{theirs.pieces}"),
        ("polyphony (notes sounding)", f"{ours.polyphony:.2f}", f"{theirs.polyphony:.2f}"),
        ("note density (per quarter)", f"{ours.note_density:.2f}", f"{theirs.note_density:.2f}"),
        ("in-key fraction", f"{ours.in_key:.3f}", f"{theirs.in_key:.3f}"),
        ("major/minor triad steps", f"{ours.triads:.3f}", f"{theirs.triads:.3f}"),
        ("seventh-chord steps", f"{ours.sevenths:.3f}", f"{theirs.sevenths:.3f}"),
    ]
    lines = [f"{'':28}{'generated':>12}{'reference':>12}"]
    lines += [f"{name:28}{a:>12}{b:>12}" for name, a, b in rows]
    lines.append(
        f"pitch-class histogram distance (total variation, 0..1): "
        f"{comparison.pitch_class_distance:.3f}"
    )
    return "\n".join(lines)
