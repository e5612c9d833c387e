"""Music data: corpora and files -> pieces on a grid -> piano-rolls or melody tokens -> MIDI.

    load_music(source, grid)        -> MusicSplits(train, valid, test) of Piece   (corpus.py)
    piece_to_roll / roll_to_piece      Piece <-> (T, 88) 0/1 piano-roll               (pianoroll.py)
    piece_to_events / events_to_piece  Piece <-> melody event tokens                  (events.py)
    write_midi / read_midi             Piece <-> .mid file                             (midi.py)
    to_abc                             a melody as ABC notation text                   (abc.py)
    transpositions                     training-set augmentation                      (augment.py)
    compare / compare_folder           statistics of generated music vs training data (stats.py)
    chord_shares                       the steps that are triads or seventh chords     (chords.py)
    parse_pitches / primer_chord / primer_line   --primer-pitches as an opening       (primer.py)
    plot_piano_roll                    a piano-roll PNG                                (plot.py)

docs/MUSIC.md describes the formats, the grid, the event vocabulary and the parse cache.
music21 and mido are the optional extra `rnnkit[music]`: without them, importing this package is
one RnnkitError that says how to install them (rnnkit's layers and text never need them).
"""

from rnnkit.errors import RnnkitError

try:
    import mido  # noqa: F401
    import music21  # noqa: F401
except ImportError:
    raise RnnkitError(
        "music needs music21 and mido, which are not installed: pip install 'rnnkit[music]'"
    ) from None

from rnnkit.data.music.abc import to_abc
from rnnkit.data.music.augment import ALL_KEYS, transpositions
from rnnkit.data.music.cache import default_cache_dir, read_music_files
from rnnkit.data.music.chords import chord_shares
from rnnkit.data.music.corpus import (
    CORPORA,
    corpus_folder,
    load_jsb_json,
    load_music,
    music_files,
    read_music_folder,
)
from rnnkit.data.music.events import (
    TOKENS,
    EventVocabulary,
    events_to_piece,
    melody,
    piece_to_events,
)
from rnnkit.data.music.midi import read_midi, write_midi
from rnnkit.data.music.pianoroll import (
    HIGHEST_PITCH,
    KEYS,
    LOWEST_PITCH,
    frames_to_roll,
    pad_rolls,
    piece_to_roll,
    roll_to_frames,
    roll_to_piece,
)
from rnnkit.data.music.piece import GRIDS, Note, Piece, grid_name, steps_per_quarter
from rnnkit.data.music.plot import plot_piano_roll
from rnnkit.data.music.primer import parse_pitches, primer_chord, primer_line
from rnnkit.data.music.score import read_music_file
from rnnkit.data.music.splits import MusicSplits, split_pieces
from rnnkit.data.music.stats import (
    CollectionStats,
    Comparison,
    PieceStats,
    collection_stats,
    compare,
    compare_folder,
    estimate_key,
    format_comparison,
    piece_stats,
    pitch_class_distance,
)

__all__ = [
    "ALL_KEYS",
    "CORPORA",
    "GRIDS",
    "HIGHEST_PITCH",
    "KEYS",
    "LOWEST_PITCH",
    "TOKENS",
    "CollectionStats",
    "Comparison",
    "EventVocabulary",
    "MusicSplits",
    "Note",
    "Piece",
    "PieceStats",
    "chord_shares",
    "collection_stats",
    "compare",
    "compare_folder",
    "corpus_folder",
    "default_cache_dir",
    "estimate_key",
    "events_to_piece",
    "format_comparison",
    "frames_to_roll",
    "grid_name",
    "load_jsb_json",
    "load_music",
    "melody",
    "music_files",
    "pad_rolls",
    "parse_pitches",
    "piece_stats",
    "piece_to_events",
    "piece_to_roll",
    "pitch_class_distance",
    "plot_piano_roll",
    "primer_chord",
    "primer_line",
    "read_midi",
    "read_music_file",
    "read_music_files",
    "read_music_folder",
    "roll_to_frames",
    "roll_to_piece",
    "split_pieces",
    "steps_per_quarter",
    "to_abc",
    "transpositions",
    "write_midi",
]
