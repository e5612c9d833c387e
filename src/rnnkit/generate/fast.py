"""Fast sampling: a language model stepped one token at a time with little work besides the math.

The straightforward loop calls the whole model for every token: the network's input checks and
backend dispatch, then torch's fused RNN kernel set up for a one-step sequence (on CPU, oneDNN
prepares its primitive and reorders the weights on every call, which costs far more than the
one-step product itself), the embedding, the output layer. `FastStep` does, once:

    table[v] = W^1 E[v] + b^1           the first layer's input part for every token (V, G*H)

and per token, for each layer l, the cell's own step (the lecture's equations, exactly):

    a^1_t = table[w_t],   a^l_t = W^l h^{l-1}_t + b^l  (l > 1)
    h^l_t = cell.step(a^l_t, h^l_{t-1})
    logits_t = V h^L_t + b_y

The state is kept between calls (no re-run of the prefix); the prime runs through the model once.
Dropout is off, as in any sampling. Shapes: B batch, P prime length, V vocabulary, H hidden.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.cells.base import State
from rnnkit.errors import RnnkitError
from rnnkit.models.language import LanguageModel

# One state per layer, as the cells keep it: [(h,) or (h, c), ...], each tensor (B, H).
LayerStates = list[State]


class FastStep:
    """A step for rnnkit.generate.loop: (tokens (B, T), state) -> (logits (B, T, V), state).

    A one-token call (T = 1) runs the cells' steps directly; a longer one (the prime) runs the
    model once. The state it returns is its own (one per layer); pass it back unchanged.
    """

    def __init__(self, model: LanguageModel) -> None:
        if model.rnn.bidirectional:
            raise RnnkitError("fast sampling needs a forward-only model; this one is bidirectional")
        self.model = model
        self.cells = model.rnn.cells
        with torch.no_grad():
            table = self.cells[0].project_input(model.input_vectors())
        self.table = table.contiguous()  # (V, G*H)

    @torch.no_grad()
    def __call__(self, tokens: Tensor, state: LayerStates | None) -> tuple[Tensor, LayerStates]:
        if tokens.shape[1] != 1:
            return self.prime(tokens, state)
        logits, state = self.step(tokens[:, 0], state)
        return logits.unsqueeze(1), state

    @torch.no_grad()
    def prime(self, tokens: Tensor, state: LayerStates | None = None):
        """Run the prime (B, P) through the model once: logits (B, P, V) and the layer states."""
        was_training = self.model.training
        self.model.eval()
        try:
            logits, network_state = self.model(tokens, self._network_state(state))
        finally:
            self.model.train(was_training)
        parts = network_state if isinstance(network_state, tuple) else (network_state,)
        return logits, [tuple(part[layer] for part in parts) for layer in range(len(self.cells))]

    @torch.no_grad()
    def step(self, tokens: Tensor, state: LayerStates | None) -> tuple[Tensor, LayerStates]:
        """One step: tokens (B,) -> logits (B, V) for the next token, and the new layer states."""
        if state is None:
            state = [cell.initial_state(tokens.shape[0], self.table) for cell in self.cells]
        first, *rest = zip(self.cells, state)
        a = self.table.index_select(0, tokens)  # (B, G*H): W^1 x_t + b^1
        new_state = [first[0].step(a, first[1])]
        for cell, layer_state in rest:
            h_below = new_state[-1][0]
            new_state.append(cell.step(cell.project_input(h_below), layer_state))
        return self.model.logits(new_state[-1][0]), new_state

    def _network_state(self, state: LayerStates | None):
        """Layer states -> the network's (L, B, H) layout (a pair for LSTM)."""
        if state is None:
            return None
        parts = tuple(torch.stack(part) for part in zip(*state))
        return parts if len(parts) == 2 else parts[0]
