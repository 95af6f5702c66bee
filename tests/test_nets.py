import pytest
import torch

from robustsk.nets import MLP, LeNet5, SmallCNN


@pytest.mark.parametrize("cls", [MLP, LeNet5, SmallCNN])
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_nets_output_logits_for_image_sizes(cls, shape):
    net = cls(input_shape=shape, n_classes=7)
    out = net(torch.rand((5,) + shape))
    assert out.shape == (5, 7)
    out.sum().backward()  # differentiable end to end


def test_mlp_flat_input_hidden_units_and_dropout():
    net = MLP(64, 3, hidden_units=(32, 16), dropout=0.2)
    assert net(torch.rand(4, 64)).shape == (4, 3)
    assert sum(isinstance(m, torch.nn.Dropout) for m in net) == 2
    assert [m.out_features for m in net if isinstance(m, torch.nn.Linear)] == [32, 16, 3]


def test_small_cnn_uses_only_bound_friendly_layers():
    allowed = (torch.nn.Conv2d, torch.nn.ReLU, torch.nn.Flatten, torch.nn.Linear)
    assert all(isinstance(m, allowed) for m in SmallCNN((1, 28, 28), 10))


def test_conv_nets_reject_flat_shapes():
    with pytest.raises(ValueError, match="LeNet5 needs image input"):
        LeNet5(input_shape=64)
    with pytest.raises(ValueError, match="positive"):
        MLP((0, 3), 2)
