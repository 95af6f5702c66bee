"""The CIFAR-size networks: PreAct ResNet-18, VGG16 (batch norm) and CNN-7."""

import pytest
import torch
from torch import nn

from robustsk.certify import check_module
from robustsk.nets import CIFAR10_MEAN, CIFAR10_STD, CNN7, VGG8, VGG16, PreActResNet18


@pytest.mark.parametrize(
    "net",
    [
        lambda: CNN7(width=8, hidden_units=32),
        lambda: VGG16(width_factor=0.125),
        lambda: VGG8(width_factor=0.125),
        lambda: PreActResNet18(width=8),
    ],
    ids=["CNN7", "VGG16", "VGG8", "PreActResNet18"],
)
def test_cifar_networks_take_3x32x32_and_output_logits(net):
    torch.manual_seed(0)
    model = net().eval()
    x = torch.rand(4, 3, 32, 32)
    assert model(x).shape == (4, 10)
    one_channel = type(model)(input_shape=(1, 28, 28), n_classes=3, **_small(model))
    assert one_channel.eval()(torch.rand(2, 1, 28, 28)).shape == (2, 3)


def _small(model):
    if isinstance(model, CNN7):
        return dict(width=8, hidden_units=32)
    if isinstance(model, (VGG16, VGG8)):
        return dict(width_factor=0.125)
    return dict(width=8)


def test_the_paper_sizes():
    assert sum(p.numel() for p in PreActResNet18().parameters()) == pytest.approx(11.17e6, 0.01)
    assert sum(p.numel() for p in VGG16().parameters()) == pytest.approx(14.73e6, 0.01)
    vgg8 = VGG8()  # six convolutions and two linear layers: eight with weights
    assert sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in vgg8.modules()) == 8
    assert sum(p.numel() for p in vgg8.parameters()) == pytest.approx(2.20e6, 0.01)
    convs = [m for m in CNN7().modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 128]


def test_cnn7_is_certifiable_and_the_resnet_is_refused():
    check_module(CNN7(width=4, hidden_units=16, normalize=(CIFAR10_MEAN, CIFAR10_STD)).eval())
    with pytest.raises(TypeError, match="PreActResNet18|forward"):
        check_module(PreActResNet18(width=4).eval())
