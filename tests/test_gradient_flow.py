"""rnnkit.studies.gradient_flow: d loss / d h_t against hand-computed and autograd values."""

import pytest
import torch
from torch import nn

from rnnkit.layers import build_recurrent
from rnnkit.studies.gradient_flow import state_gradient_norms


class LinearRNN(nn.Module):
    """The hand-computable case: one unit, h_t = w h_{t-1} + u x_t, with torch's call signature."""

    def __init__(self, w: float, u: float) -> None:
        super().__init__()
        self.w, self.u = w, u

    def forward(self, x, hx=None):
        h = torch.zeros(1, x.shape[0], 1) if hx is None else hx  # (1, B, 1)
        outputs = []
        for t in range(x.shape[1]):
            h = self.w * h + self.u * x[:, t].unsqueeze(0)
            outputs.append(h[-1])
        return torch.stack(outputs, dim=1), h


@pytest.mark.parametrize("w", [0.5, -0.9, 1.2])
def test_linear_rnn_gradient_is_w_to_the_distance(w):
    """loss = h_T, so d loss / d h_t = w^(T - t): entry k of the result is |w|^k."""
    T = 12
    x = torch.randn(3, T, 1)
    norms = state_gradient_norms(LinearRNN(w, u=0.7), x, lambda states: states[:, -1, 0])
    expected = torch.tensor([abs(w) ** k for k in range(T)])
    torch.testing.assert_close(norms, expected, rtol=1e-5, atol=0)


def test_rnnkit_relu_rnn_in_its_linear_regime_gives_w_to_the_distance():
    """One unit, W = 1, U = w > 0, b = 0 and positive inputs: relu is the identity."""
    w, T = 0.8, 10
    layer = build_recurrent("rnn-relu", 1, 1)
    params = layer.params()
    with torch.no_grad():
        params["W"].fill_(1.0)
        params["U"].fill_(w)
        params["b"].zero_()
    x = torch.rand(2, T, 1) + 0.1
    norms = state_gradient_norms(layer, x, lambda states: states[:, -1, 0])
    expected = torch.tensor([w**k for k in range(T)])
    torch.testing.assert_close(norms, expected, rtol=1e-5, atol=0)


def test_losses_read_at_every_step_add_their_direct_terms():
    """loss = sum_t h_t gives d loss / d h_t = 1 + w + ... + w^(T - t)."""
    w, T = 0.5, 6
    x = torch.randn(2, T, 1)
    norms = state_gradient_norms(LinearRNN(w, u=1.0), x, lambda states: states.sum(dim=(1, 2)))
    expected = torch.tensor([sum(w**j for j in range(k + 1)) for k in range(T)])
    torch.testing.assert_close(norms, expected, rtol=1e-5, atol=0)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_matches_autograd_through_a_whole_sequence_call(cell):
    """Independent path: run steps 1..t in one call, then t+1..T from a leaf h_t in another."""
    torch.manual_seed(0)
    layer = build_recurrent(cell, 2, 3).double()
    head = nn.Linear(3, 1).double()
    B, T = 4, 7
    x = torch.randn(B, T, 2, dtype=torch.float64)
    target = torch.randn(B, dtype=torch.float64)

    def losses(states):
        return (head(states[:, -1])[:, 0] - target) ** 2

    norms = state_gradient_norms(layer, x, losses)
    for t in range(1, T):  # h_t after t steps; distance from the end T - t
        _, state = layer(x[:, :t])
        h = (state[0] if isinstance(state, tuple) else state).detach().requires_grad_(True)
        rest = (h, state[1].detach()) if isinstance(state, tuple) else h
        output, _ = layer(x[:, t:], rest)
        (grad,) = torch.autograd.grad(losses(output).sum(), h)  # (1, B, H)
        expected = grad[0].norm(dim=1).mean()
        torch.testing.assert_close(norms[T - t], expected)
