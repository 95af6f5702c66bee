import torch

from robustsk.nets import SmallCNN


def test_small_cnn_uses_only_bound_friendly_layers():
    allowed = (torch.nn.Conv2d, torch.nn.ReLU, torch.nn.Flatten, torch.nn.Linear)
    assert all(isinstance(m, allowed) for m in SmallCNN((1, 28, 28), 10))
