"""How the core lays out what it passes between cells, backends and layers.

    lengths.py        variable-length batches: checking lengths, step masks, reversal within lengths
    torch_weights.py  one cell's parameters in torch.nn's layout (two biases, torch's z), and back

Below the backends and the layers, above the cells: both use these, neither is known here.
"""
