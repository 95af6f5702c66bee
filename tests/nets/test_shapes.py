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


def test_conv_nets_reject_flat_shapes():
    with pytest.raises(ValueError, match="LeNet5 needs image input"):
        LeNet5(input_shape=64)
    with pytest.raises(ValueError, match="positive"):
        MLP((0, 3), 2)
