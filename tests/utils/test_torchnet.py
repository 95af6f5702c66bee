"""The one layer that reaches into a fitted torch net: outputs, log-probabilities, modes."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from torch import nn

from robustsk.utils import TorchClassifier, batches


class _Fitted:
    """The attributes a fitted robustsk estimator exposes, around a tiny module."""

    def __init__(self, module, input_shape=(1, 4, 4), criterion=None):
        self.module_ = module
        self.device = "cpu"
        self.input_shape_ = input_shape
        self.criterion_ = criterion


class _TupleOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))

    def forward(self, x):
        return self.inner(x), x.shape


def _module():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.Dropout(0.5), nn.Linear(8, 3))


def test_batches_cover_the_rows_in_order():
    assert list(batches(7, 3)) == [slice(0, 3), slice(3, 6), slice(6, 7)]
    assert list(batches(0, 3)) == []


def test_output_shapes_flat_rows_and_takes_a_tuples_first_element():
    X = np.random.default_rng(0).random((5, 16), dtype=np.float32)
    net = TorchClassifier(_Fitted(_TupleOut()), "test")
    with net.evaluating():
        out = net.output(X)
    expected = net.module.inner(torch.from_numpy(X).reshape(5, 1, 4, 4))
    assert out.shape == (5, 3) and torch.allclose(out, expected)


def test_log_proba_module_gives_log_probabilities_of_logits_and_of_probabilities():
    X = torch.rand(6, 16)
    net = TorchClassifier(_Fitted(_module()), "test")
    with net.evaluating():
        logits = net.output(X)
        assert torch.allclose(net.log_proba_module()(X), torch.log_softmax(logits, 1))
    proba_module = nn.Sequential(_module(), nn.Softmax(dim=1))
    nll = TorchClassifier(_Fitted(proba_module, criterion=nn.NLLLoss()), "test")
    with nll.evaluating():
        assert torch.allclose(nll.log_proba_module()(X), torch.log(nll.output(X)), atol=1e-6)


def test_log_proba_module_reports_eval_without_changing_the_nets_mode():
    module = _module().train()
    view = TorchClassifier(_Fitted(module), "test").log_proba_module()
    assert view.training is False and module.training is True
    assert list(view.children()) == [module]


def test_a_library_restoring_the_mode_it_found_leaves_the_net_in_eval_mode():
    """torchattacks calls ``model.train()`` after attacking a model it found in training
    mode; the view says eval, so dropout stays off inside ``evaluating`` and the net's own
    mode comes back afterwards."""
    torchattacks = pytest.importorskip("torchattacks")
    module = _module().train()
    net = TorchClassifier(_Fitted(module), "test")
    x = torch.rand(8, 1, 4, 4)
    y = torch.zeros(8, dtype=torch.long)
    with net.evaluating():
        torchattacks.FGSM(net.log_proba_module(), eps=0.1)(x, y)
        assert module.training is False
        first = net.output(x)
        assert torch.equal(first, net.output(x))  # dropout off: the same output twice
    assert module.training is True


@pytest.mark.parametrize(
    "estimator, fragment",
    [
        (LogisticRegression(), "got a LogisticRegression. Use a probability-based strategy"),
        (nn.Linear(4, 2), "got a bare torch.nn.Module (Linear); wrap it in a skorch net"),
    ],
)
def test_other_models_are_refused_with_what_they_are_and_the_way_out(estimator, fragment):
    with pytest.raises(TypeError, match="strategy_x needs a fitted torch network") as err:
        TorchClassifier(estimator, "strategy_x")
    assert fragment in str(err.value)
