"""Time series for classification: files -> sequences, labels, normalisation, a split.

    open_series(source, part)    a file, a folder, aeon:NAME or example:waveforms, and the
                                 train and test parts a source may have          (sources.py)
    load_series(path)            CSV, TSV and .ts files, and folders of them   (reading.py,
                                                                                 ts_format.py)
    aeon_names()                 the datasets `aeon:NAME` reads                  (aeon_data.py)
    SeriesDataset, fingerprint   the sequences, labels and ids read              (dataset.py)
    LabelVocabulary              the classes, saved as labels.json               (labels.py)
    FeatureScaler                per-feature standardisation, scaler.json        (scaler.py)
    resample_each                series to one length (--resample)               (resampling.py)
    stratified_split             train / valid, each class in proportion         (split.py)
    write_series, write_predictions                                              (writing.py)
    make_waveforms               the built-in example, generated                 (waveforms.py)

Batching lives with every other kind of sequence batch in rnnkit.data.batching.
docs/CLASSIFICATION.md shows the CSV layouts.
"""

from rnnkit.data.series.aeon_data import aeon_names
from rnnkit.data.series.dataset import SeriesDataset, fingerprint
from rnnkit.data.series.labels import LabelVocabulary
from rnnkit.data.series.missing import fill_missing
from rnnkit.data.series.reading import FORMATS, load_series
from rnnkit.data.series.scaler import FeatureScaler
from rnnkit.data.series.sources import PARTS, canonical, has_test_part, open_series
from rnnkit.data.series.split import stratified_split
from rnnkit.data.series.waveforms import EXAMPLE, WAVEFORMS, make_waveforms
from rnnkit.data.series.writing import write_predictions, write_series

__all__ = [
    "EXAMPLE",
    "FORMATS",
    "PARTS",
    "WAVEFORMS",
    "FeatureScaler",
    "LabelVocabulary",
    "SeriesDataset",
    "aeon_names",
    "canonical",
    "fill_missing",
    "fingerprint",
    "has_test_part",
    "load_series",
    "make_waveforms",
    "open_series",
    "stratified_split",
    "write_predictions",
    "write_series",
]
