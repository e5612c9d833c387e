"""Piano-roll: a piece as a 0/1 matrix of time steps by the 88 piano keys.

    roll[t, k] = 1  if MIDI pitch 21 + k sounds at grid step t, else 0      shape (T, 88)

Key 0 is A0 (MIDI 21), key 87 is C8 (MIDI 108): the polyphonic model's 88 Bernoulli outputs.
Notes outside the piano's range are left out of the roll. A roll cannot tell a held note from
the same note struck again, so `roll_to_piece` reads each unbroken run of 1s in a column as one
note; JSB Chorales have the same limitation (each time step lists the sounding pitches).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnnkit.data.music.piece import Note, Piece
from rnnkit.errors import RnnkitError

LOWEST_PITCH = 21  # A0, the piano's lowest key
HIGHEST_PITCH = 108  # C8, the piano's highest key
KEYS = HIGHEST_PITCH - LOWEST_PITCH + 1  # 88


def piece_to_roll(piece: Piece) -> np.ndarray:
    """The piano-roll of a piece: float32 of shape (piece.length, 88), 1 where a key sounds."""
    roll = np.zeros((piece.length, KEYS), dtype=np.float32)
    for note in piece.notes:
        if LOWEST_PITCH <= note.pitch <= HIGHEST_PITCH:
            roll[note.start : note.end, note.pitch - LOWEST_PITCH] = 1.0
    return roll


def roll_to_piece(
    roll: np.ndarray,
    steps_per_quarter: int,
    name: str = "piano-roll",
    bar_starts: Sequence[int] = (),
) -> Piece:
    """The piece a piano-roll (T, 88) plays: each unbroken run of nonzero steps is one note."""
    roll = np.asarray(roll)
    if roll.ndim != 2 or roll.shape[1] != KEYS:
        raise RnnkitError(f"a piano-roll has shape (time, {KEYS}); got {tuple(roll.shape)}")
    on = np.zeros((roll.shape[0] + 2, KEYS), dtype=np.int8)  # padded so every run has two edges
    on[1:-1] = roll != 0
    edges = np.diff(on, axis=0)  # +1 where a run starts, -1 one step after it ends
    notes = []
    for key in range(KEYS):
        starts = np.flatnonzero(edges[:, key] == 1)
        ends = np.flatnonzero(edges[:, key] == -1)
        for start, end in zip(starts, ends, strict=True):
            notes.append(Note(int(start), LOWEST_PITCH + key, int(end - start)))
    return Piece(name, tuple(notes), steps_per_quarter, roll.shape[0], tuple(bar_starts))


def frames_to_roll(frames: Sequence[Sequence[int]]) -> np.ndarray:
    """A piano-roll from a list of time steps, each a list of sounding MIDI pitches (JSB style)."""
    roll = np.zeros((len(frames), KEYS), dtype=np.float32)
    for step, pitches in enumerate(frames):
        for pitch in pitches:
            if not LOWEST_PITCH <= pitch <= HIGHEST_PITCH:
                raise RnnkitError(
                    f"pitch {pitch} at step {step} is outside the piano's range "
                    f"{LOWEST_PITCH}..{HIGHEST_PITCH}; transpose the piece into range"
                )
            roll[step, pitch - LOWEST_PITCH] = 1.0
    return roll


def roll_to_frames(roll: np.ndarray) -> list[list[int]]:
    """The sounding MIDI pitches at each step of a piano-roll (the inverse of `frames_to_roll`)."""
    return [[LOWEST_PITCH + int(key) for key in np.flatnonzero(row)] for row in np.asarray(roll)]


def pad_rolls(rolls: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Stack rolls of different lengths: (batch (B, T_max, 88) zero-padded, lengths (B,) int64)."""
    lengths = np.array([len(roll) for roll in rolls], dtype=np.int64)
    batch = np.zeros((len(rolls), int(lengths.max(initial=0)), KEYS), dtype=np.float32)
    for row, roll in enumerate(rolls):
        batch[row, : len(roll)] = roll
    return batch, lengths
