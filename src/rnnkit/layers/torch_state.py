"""torch.nn's parameter names and state dicts on rnnkit's networks: old checkpoints load as they
are, and any model's state dict can be written for its torch.nn twin.

torch.nn.LSTM / GRU / RNN name the tensors of layer k, adding _reverse for its backward direction,

    weight_ih_l{k}   weight_hh_l{k}   bias_ih_l{k}   bias_hh_l{k}   (weight_hr_l{k}: LSTM proj_size)

and torch.nn.LSTMCell / GRUCell / RNNCell the same without the suffix. rnnkit keeps them in its
cells (layers.{k}.cell.weight_ih, ...) with one bias per gate, b = b_ih + b_hh; GRU(reset="after")
keeps torch's b_hn apart and the lecture's z (torch's z rows negated). The values are converted
by rnnkit.layout.torch_weights, the one place the two conventions meet; this module maps names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from torch import Tensor, nn

from rnnkit.cells import Cell, GRUCell
from rnnkit.errors import RnnkitError
from rnnkit.layout.torch_weights import from_torch_weights, torch_weights

# torch's names of one cell's tensors, in its order; a cell without bias has the first two, an
# LSTM with proj_size weight_hr last.
TORCH_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
NETWORK_NAME = re.compile(r"(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l(\d+)(_reverse)?")


class TorchNameError(RnnkitError, AttributeError):
    """A torch.nn name with no exact rnnkit view; an AttributeError, so hasattr() is False."""


class TorchLayout(nn.Module):
    """What makes a stack of cells read and write torch.nn's names. The subclass (rnnkit's
    RecurrentNetwork) provides num_layers, num_directions and cell(layer, direction)."""

    def __getattr__(self, name: str):
        # torch's names are looked up only after nn.Module's own attributes are not found.
        try:
            return super().__getattr__(name)
        except AttributeError:
            match = NETWORK_NAME.fullmatch(name)
            if match is None:
                raise
        return self._torch_parameter(name, match[1], int(match[2]), match[3] is not None)

    def _torch_parameter(self, name: str, tensor: str, layer: int, reverse: bool) -> nn.Parameter:
        """weight_ih_l0 -> the cell's weight_ih, and so on: the real parameter where torch's
        layout is rnnkit's, so writing to it (nn.init, .data[...]) changes the network."""
        absent = AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        if layer >= self.num_layers or (reverse and self.num_directions == 1):
            raise absent
        cell = self.cell(layer, int(reverse))
        if isinstance(cell, GRUCell) and cell.reset == "after":
            raise TorchNameError(
                f"this rnnkit GRU keeps the lecture's z (torch's z rows are negated), so {name} "
                "has no exact view: use rnnkit.torch_state_dict(gru) or gru.params(layer)"
            )
        if isinstance(cell, GRUCell):
            raise TorchNameError(lecture_gru(f"it has no {name} (gru.params() has its names)"))
        if tensor == "bias_hh" and cell.bias is not None:
            own = name.replace("bias_hh", "bias_ih")
            raise TorchNameError(
                f"rnnkit has one bias per gate: {own} is torch's b_ih + b_hh and {name} has no "
                f"counterpart; set {own} instead (docs/SWITCHING.md)"
            )
        own = {"weight_ih": cell.weight_ih, "weight_hh": cell.weight_hh, "bias_ih": cell.bias}
        own["weight_hr"] = cell.weight_hr if cell.proj_size else None
        if own.get(tensor) is None:  # bias=False (or no projection): torch has none either
            raise absent
        return own[tensor]

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args) -> None:
        load_torch_keys(self, state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args)

    def torch_state_dict(self) -> dict[str, Tensor]:
        """This network's state dict in torch.nn's layout, which its torch.nn twin loads."""
        return torch_state_dict(self)


def lecture_gru(consequence: str) -> str:
    return (
        f"this rnnkit GRU is the lecture's (reset='before'), another function than torch.nn.GRU, "
        f"so {consequence}: build it with reset='after' to compute torch.nn.GRU"
    )


def refuse_lecture_gru(cell: Cell, consequence: str) -> None:
    if isinstance(cell, GRUCell) and cell.reset != "after":
        raise RnnkitError(lecture_gru(consequence))


def refuse_options(cell: Cell) -> None:
    """A cell with options torch.nn lacks (all but an LSTM's projection) has no torch layout."""
    options = set(cell.options.active(training=True)) - {"proj_size"}
    if options:
        raise RnnkitError(
            f"torch.nn has no {', '.join(sorted(options))}; only a network without these "
            "options has a torch.nn twin"
        )


def _suffix(layer: int, direction: int) -> str:
    return f"_l{layer}" + ("_reverse" if direction else "")


def _torch_cells(network: TorchLayout) -> list[tuple[str, str, Cell]]:
    """(the cell's path in the network, its torch suffix, the cell), in torch's order."""
    paths = {id(module): path for path, module in network.named_modules()}
    cells = []
    for layer in range(network.num_layers):
        for direction in range(network.num_directions):
            cell = network.cell(layer, direction)
            cells.append((paths[id(cell)], _suffix(layer, direction), cell))
    return cells


def _names(cell: Cell) -> tuple[str, ...]:
    names = TORCH_NAMES if cell.bias is not None else TORCH_NAMES[:2]
    return (*names, "weight_hr") if cell.proj_size else names


def load_torch_keys(network: TorchLayout, state_dict: dict, prefix: str) -> None:
    """Rewrite, in place, the torch.nn keys of `network` in `state_dict` (weight_ih_l0, ...
    under load_state_dict's `prefix`) as rnnkit's (layers.0.cell.weight_ih, ...); rnnkit's own
    keys pass as they are. Keys of layers this network lacks stay, and load_state_dict reports
    them."""
    ours = [key[len(prefix) :] for key in state_dict if key.startswith(prefix)]
    if not any(NETWORK_NAME.fullmatch(key) for key in ours):
        return
    group = prefix.removesuffix(".")
    cells = [(_join(group, path), suffix, cell) for path, suffix, cell in _torch_cells(network)]
    _convert(state_dict, group, cells)


def _convert(state_dict: dict, prefix: str, cells: list[tuple[str, str, Cell]]) -> None:
    """Rewrite, in place, the torch.nn keys of one network or cell under `prefix` as rnnkit's;
    `cells` as `_torch_groups` gives them."""
    for cell_prefix, suffix, cell in cells:
        refuse_lecture_gru(cell, "it cannot load a torch.nn.GRU state dict")
        keys = [_join(prefix, name + suffix) for name in _names(cell)]
        missing = [key for key in keys if key not in state_dict]
        if missing:
            raise RnnkitError(
                f"the torch.nn state dict has no {missing[0]}: it was saved from a module of "
                "another shape (num_layers, bidirectional or bias)"
            )
        converted = from_torch_weights(cell, [state_dict.pop(key) for key in keys])
        state_dict.update({_join(cell_prefix, name): value for name, value in converted.items()})


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _torch_groups(model: nn.Module) -> Iterator[tuple[str, list[tuple[str, str, Cell]]]]:
    """Each rnnkit network and each cell outside a network in `model`: its key prefix, and for
    each of its cells the cell's own key prefix, its torch suffix and the cell."""
    networks: list[str] = []
    for name, module in model.named_modules():
        if any(not network or name.startswith(f"{network}.") for network in networks):
            continue  # inside a network already listed
        if isinstance(module, TorchLayout):
            networks.append(name)
            cells = _torch_cells(module)
            yield name, [(_join(name, path), suffix, cell) for path, suffix, cell in cells]
        elif isinstance(module, Cell):
            yield name, [(name, "", module)]


def torch_state_dict(model: nn.Module) -> dict[str, Tensor]:
    """`model.state_dict()` with every rnnkit network and cell in torch.nn's layout, so the same
    model built with torch.nn.LSTM / GRU / RNN (and their cells) loads it. torch's b_hh comes
    back zero (rnnkit's one bias is in b_ih), except GRU's b_hn. Refuses the lecture's GRU."""
    owner: dict[str, str] = {}  # an rnnkit parameter's key -> the prefix of its network or cell
    torch_items: dict[str, dict[str, Tensor]] = {}
    for prefix, cells in _torch_groups(model):
        items = {}
        for cell_prefix, suffix, cell in cells:
            refuse_lecture_gru(cell, "it has no torch.nn layout")
            refuse_options(cell)
            owner.update({_join(cell_prefix, name): prefix for name, _ in cell.named_parameters()})
            tensors = [tensor.detach() for tensor in torch_weights(cell)]
            items.update({_join(prefix, n + suffix): t for n, t in zip(_names(cell), tensors)})
        torch_items[prefix] = items
    converted: dict[str, Tensor] = {}
    for key, value in model.state_dict().items():
        if key not in owner:
            converted[key] = value
        elif owner[key] in torch_items:  # the first key of its network: write all of torch's
            converted.update(torch_items.pop(owner[key]))
    return converted


def from_torch_state_dict(model: nn.Module, state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """The state dict of the same model built with torch.nn's recurrent layers and cells, in
    rnnkit's layout, for `model.load_state_dict`. Networks load torch's keys by themselves; a
    lone cell (rnnkit.LSTMCell in place of torch.nn.LSTMCell) needs this, because torch's and
    rnnkit's cells share the names weight_ih and weight_hh (GRUCell's z rows differ in sign)."""
    state = dict(state_dict)
    for prefix, cells in _torch_groups(model):
        _convert(state, prefix, cells)
    return state
