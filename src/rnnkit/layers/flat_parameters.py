"""torch.nn's flatten_parameters on rnnkit's networks: on CUDA, the parameters the native backend
hands to cuDNN are views into one flat buffer (backends/flat_weights.py), so no call copies them.

As torch.nn.LSTM does, a network flattens when it is built and after every `.to()` / `.cuda()` /
`.half()` (nn.Module._apply), on the device types in flat_weights.DEVICES; `flatten_parameters()`
does it again after anything else replaced the parameters (load_state_dict(assign=True)). Until
then the kernel gets the cells' parameters as separate tensors, as without a buffer.
safetensors refuses tensors that share a storage they do not cover (torch.nn.LSTM's on CUDA too):
`apart(model)` gives them storages of their own while a checkpoint is written or read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import Tensor, nn

from rnnkit.backends import flat_weights, native


class FlatParameters(nn.Module):
    """What keeps a stack's kernel weights in one buffer. The subclass (rnnkit's
    RecurrentNetwork) provides cells, num_layers and bidirectional."""

    _flat: flat_weights.FlatWeights | None = None

    def flatten_parameters(self) -> None:
        """Make the parameters views into one flat buffer, where the device gains from it
        (cuDNN) and torch's kernel takes the cells' parameters as they are (LSTM, RNN)."""
        cells = self.cells
        kernel = native.kernel_name(cells[0])
        device = cells[0].weight_ih.device.type
        self._flat = None
        if device in flat_weights.DEVICES and flat_weights.can_flatten(cells, kernel):
            self._flat = flat_weights.flatten(cells, kernel, self.num_layers, self.bidirectional)

    def kernel_weights(self) -> list[Tensor] | None:
        """The flat buffer's views for the native kernel, or None while there is none (or the
        parameters are no longer its views)."""
        flat = self._flat
        return flat.weights if flat is not None and flat.holds(self.cells) else None

    def _apply(self, fn, *args, **kwargs):
        # .to(), .cuda(), .double(), ... make new parameter tensors: flatten those
        module = super()._apply(fn, *args, **kwargs)
        self.flatten_parameters()
        return module

    def __getstate__(self) -> dict:
        # the buffer's views are the parameters themselves; the unpickled copy flattens anew
        return {**self.__dict__, "_flat": None}

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self.flatten_parameters()


@contextmanager
def apart(model: nn.Module) -> Iterator[None]:
    """Within it, every flattened network in `model` has each parameter in a storage of its own
    (a copy); after it, they are flattened again."""
    networks = [m for m in model.modules() if isinstance(m, FlatParameters) and m._flat is not None]
    for network in networks:
        for parameter in network.parameters():
            parameter.data = parameter.data.clone()
    try:
        yield
    finally:
        for network in networks:
            network.flatten_parameters()
