"""The Normalize layer: per-channel standardisation the bounds go through exactly."""

import pytest
import torch
from torch import nn

from robustsk.certify import compute_bounds
from robustsk.nets import CIFAR10_MEAN, CIFAR10_STD, Normalize


def test_normalize_standardizes_each_channel():
    x = torch.rand(5, 3, 4, 4)
    layer = Normalize(CIFAR10_MEAN, CIFAR10_STD)
    mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(layer(x), (x - mean) / std)
    with pytest.raises(ValueError, match="std must be positive"):
        Normalize((0.5,), (0.0,))
    with pytest.raises(ValueError, match="one value per channel"):
        Normalize((0.5, 0.5), (0.2,))


@pytest.mark.parametrize("method", ["ibp", "crown-ibp", "crown"])
def test_bounds_through_normalize_equal_the_folded_network(method):
    """Normalize then a padding-free conv is the conv with the scaling folded in."""
    torch.manual_seed(1)
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
    conv = nn.Conv2d(3, 4, 3)
    head = [nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5)]
    net = nn.Sequential(Normalize(mean, std), conv, *head).eval()
    folded_conv = nn.Conv2d(3, 4, 3)
    s = torch.tensor(std).view(1, 3, 1, 1)
    m = torch.tensor(mean).view(1, 3, 1, 1)
    with torch.no_grad():
        folded_conv.weight.copy_(conv.weight / s)
        folded_conv.bias.copy_(conv.bias - (conv.weight * m / s).sum((1, 2, 3)))
    folded = nn.Sequential(folded_conv, *head).eval()
    x = torch.rand(3, 3, 8, 8)
    lower, upper = (x - 0.03).clamp(0, 1), (x + 0.03).clamp(0, 1)
    torch.testing.assert_close(net(x), folded(x), atol=1e-5, rtol=1e-5)
    lo, hi = compute_bounds(net, lower, upper, method=method)
    lo_f, hi_f = compute_bounds(folded, lower, upper, method=method)
    torch.testing.assert_close(lo, lo_f, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(hi, hi_f, atol=1e-4, rtol=1e-4)
    # and they contain sampled points of the box
    pts = lower + (upper - lower) * torch.rand(2000, *x.shape)
    with torch.no_grad():
        out = net(pts.reshape(-1, 3, 8, 8)).reshape(2000, 3, 5)
    assert (out >= lo - 1e-5).all() and (out <= hi + 1e-5).all()
