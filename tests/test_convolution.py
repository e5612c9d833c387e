"""rnnkit.models.convolution: the FCN branch keeps the length, ignores padding, and its batch
normalisation takes statistics over valid steps only (checked against torch's BatchNorm1d)."""

import torch
from torch import nn

from rnnkit.models.convolution import FullyConvolutional, MaskedBatchNorm, SqueezeExcite


def test_masked_batch_norm_is_torchs_on_the_valid_steps():
    torch.manual_seed(0)
    h = torch.randn(2, 3, 5)
    valid = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], dtype=torch.float32)[:, None, :]
    ours, theirs = MaskedBatchNorm(3), nn.BatchNorm1d(3)
    out = ours(h, valid)
    steps = torch.cat([h[0], h[1, :, :2]], dim=1)  # (C, 7): the valid steps side by side
    expected = theirs(steps[None])[0]
    torch.testing.assert_close(torch.cat([out[0], out[1, :, :2]], dim=1), expected)
    assert out[1, :, 2:].abs().max() == 0  # padding stays 0
    torch.testing.assert_close(ours.running_mean, theirs.running_mean)
    torch.testing.assert_close(ours.running_var, theirs.running_var)
    ours.eval(), theirs.eval()
    torch.testing.assert_close(ours(h, valid)[0], theirs(h)[0])


def test_in_training_more_padding_changes_nothing():
    """Two batches with the same valid steps, one padded longer: the same vectors."""
    torch.manual_seed(0)
    fcn = FullyConvolutional(2, 4)
    x = torch.randn(2, 6, 2)
    x[1, 3:] = 0
    longer = torch.cat([x, torch.zeros(2, 5, 2)], dim=1)
    lengths = torch.tensor([6, 3])
    torch.testing.assert_close(fcn(x, lengths), fcn(longer, lengths))
    assert fcn(x, lengths).shape == (2, fcn.output_size) == (2, 4)
    excited = FullyConvolutional(2, 4, squeeze_excite=True)
    assert len(excited.excite) == 2  # after the first two blocks
    torch.testing.assert_close(excited(x, lengths), excited(longer, lengths))


def test_a_batch_without_padding_takes_torchs_kernel_and_gets_the_padded_batchs_vectors():
    """Equal lengths run torch's batch norm; padding them runs the masked one: same vectors,
    same running statistics."""
    torch.manual_seed(0)
    fcn, padded_fcn = FullyConvolutional(2, 4), FullyConvolutional(2, 4)
    padded_fcn.load_state_dict(fcn.state_dict())
    x = torch.randn(3, 7, 2)
    lengths = torch.tensor([7, 7, 7])
    longer = torch.cat([x, torch.zeros(3, 4, 2)], dim=1)
    torch.testing.assert_close(fcn(x, lengths), padded_fcn(longer, lengths))
    for ours, theirs in zip(fcn.norms, padded_fcn.norms, strict=True):
        torch.testing.assert_close(ours.running_mean, theirs.running_mean)
        torch.testing.assert_close(ours.running_var, theirs.running_var)


def test_squeeze_excite_scales_each_channel_by_a_gate_from_its_mean_over_valid_steps():
    torch.manual_seed(0)
    se = SqueezeExcite(32)
    assert se.W_1.out_features == 2  # 32 channels squeezed 16-fold
    h = torch.randn(2, 32, 5)
    h[1, :, 3:] = 0  # the second sequence is 3 steps
    out = se(h, torch.tensor([5, 3]))
    z = torch.stack([h[0].mean(dim=1), h[1, :, :3].mean(dim=1)])  # (B, C)
    gate = torch.sigmoid(se.W_2(torch.relu(se.W_1(z))))
    torch.testing.assert_close(out, h * gate[:, :, None])
    assert out[1, :, 3:].abs().max() == 0
