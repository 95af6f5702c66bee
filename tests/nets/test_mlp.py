import torch

from robustsk.nets import MLP


def test_mlp_flat_input_hidden_units_and_dropout():
    net = MLP(64, 3, hidden_units=(32, 16), dropout=0.2)
    assert net(torch.rand(4, 64)).shape == (4, 3)
    assert sum(isinstance(m, torch.nn.Dropout) for m in net) == 2
    assert [m.out_features for m in net if isinstance(m, torch.nn.Linear)] == [32, 16, 3]
