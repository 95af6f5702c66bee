"""Certificates are sound for every module that is accepted; anything else is refused early.

Two halves: hostile modules (each refused with an error naming it, before any
work) and a property test over randomly built accepted modules (every bound
contains 10,000 sampled points of its box, and no clean-misclassified point is
ever certified).
"""

import copy
import random
import re
from collections import OrderedDict

import numpy as np
import pytest
import torch
from sklearn.ensemble import RandomForestClassifier
from skorch.callbacks import Callback
from torch import nn
from torch.nn.modules import module as module_globals
from torch.nn.utils import parametrize, prune

from robustsk import nets
from robustsk.attacks import pgd
from robustsk.certify import compute_bounds, cross_entropy_upper_bound, input_box, margin_matrix
from robustsk.estimators import CertifiedBudgetClassifier, RobustNetClassifier
from robustsk.metrics import VerifiedErrorScorer, verified_error

METHODS = ["ibp", "crown-ibp", "crown", "best"]


# ------------------------------------------------------------ hostile modules
class SkipSequential(nn.Sequential):
    """A residual block written as a Sequential subclass: ``layers(x) + x``."""

    def forward(self, x):
        return super().forward(x) + x


class ReversedSequential(nn.Sequential):
    """Runs its layers backwards: the stock forward iterates ``self``."""

    def __iter__(self):
        return iter(reversed(list(self._modules.values())))


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        return x + self.lin(x)


class ShiftedLinear(nn.Linear):
    def forward(self, x):
        return super().forward(x) + 1.0


class CalledLinear(nn.Linear):
    def __call__(self, x):
        return super().__call__(x) * 2.0


class LeakyReLUish(nn.ReLU):
    def forward(self, x):
        return torch.where(x > 0, x, 0.1 * x)


class DoubledIdentity(nn.Identity):
    def forward(self, x):
        return 2.0 * x


class ScaledDropout(nn.Dropout):
    def forward(self, x):
        return 3.0 * x


class ShiftedConv(nn.Conv2d):
    def _conv_forward(self, x, weight, bias):
        return super()._conv_forward(x, weight, bias) + 1.0


class ShiftedBatchNorm(nn.BatchNorm1d):
    def forward(self, x):
        return super().forward(x) + 1.0


class Negate(nn.Module):
    def forward(self, w):
        return -w


class _BackwardsDict(OrderedDict):
    """A ``_modules`` dict whose values (what ``Sequential.forward`` runs) come in reverse."""

    def values(self):
        return reversed(list(super().values()))


def _reordered_modules():
    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))
    net._modules = _BackwardsDict(net._modules)
    return net, (4,)


def _flat(*layers):
    return nn.Sequential(*layers), (4,)


def _image(*layers):
    return nn.Sequential(*layers), (1, 6, 6)


def _hooked(kind):
    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 3))
    if kind == "forward hook":
        net[0].register_forward_hook(lambda m, i, o: o + 1.0)
    elif kind == "pre-hook":
        net.register_forward_pre_hook(lambda m, i: (i[0] * 2.0,))
    elif kind == "pruned":
        prune.l1_unstructured(net[2], "weight", amount=0.5)  # a forward pre-hook
    elif kind == "instance forward":
        net[2].forward = lambda x: x[:, :3]
    elif kind == "compiled":
        net[0]._compiled_call_impl = lambda x: x[:, :4] * 0.0
    elif kind == "parametrized":
        parametrize.register_parametrization(net[0], "weight", Negate())
    return net, (4,)


#: (test id, factory of (module, example shape), a name the TypeError must contain)
HOSTILE = [
    (
        "skip-connection Sequential",
        lambda: _flat(SkipSequential(nn.Linear(4, 4))),
        "SkipSequential",
    ),
    (
        "nested skip Sequential",
        lambda: _flat(nn.Linear(4, 4), SkipSequential(nn.ReLU(), nn.Linear(4, 4))),
        "SkipSequential",
    ),
    ("Sequential with __iter__", lambda: _flat(ReversedSequential(nn.Linear(4, 4))), "__iter__"),
    ("custom container", lambda: _flat(Residual()), "Residual"),
    (
        "in-place ReLU first in a residual body",
        lambda: _flat(
            nn.Linear(4, 4), nets.Residual(nn.Sequential(nn.ReLU(True), nn.Linear(4, 4)))
        ),
        "overwritten in place",
    ),
    ("modules run in another order than listed", _reordered_modules, "running it called"),
    ("custom root", lambda: (Residual(), (4,)), "Residual"),
    ("Linear.forward", lambda: _flat(ShiftedLinear(4, 3)), "ShiftedLinear"),
    ("Linear.__call__", lambda: _flat(CalledLinear(4, 3)), "CalledLinear"),
    (
        "ReLU.forward",
        lambda: _flat(nn.Linear(4, 4), LeakyReLUish(), nn.Linear(4, 3)),
        "LeakyReLUish",
    ),
    ("Identity.forward", lambda: _flat(DoubledIdentity(), nn.Linear(4, 3)), "DoubledIdentity"),
    ("Dropout.forward", lambda: _flat(ScaledDropout(), nn.Linear(4, 3)), "ScaledDropout"),
    ("BatchNorm.forward", lambda: _flat(ShiftedBatchNorm(4), nn.Linear(4, 3)), "ShiftedBatchNorm"),
    ("Conv2d._conv_forward", lambda: _image(ShiftedConv(1, 2, 3)), "ShiftedConv"),
    ("forward hook", lambda: _hooked("forward hook"), "Linear"),
    ("forward pre-hook", lambda: _hooked("pre-hook"), "Sequential"),
    ("pruning pre-hook", lambda: _hooked("pruned"), "Linear"),
    ("per-instance forward", lambda: _hooked("instance forward"), "Linear"),
    ("compiled call", lambda: _hooked("compiled"), "compiled"),
    ("parametrized weight", lambda: _hooked("parametrized"), "ParametrizedLinear"),
    ("lazy layer", lambda: _flat(nn.LazyLinear(3)), "LazyLinear"),
    ("Tanh", lambda: _flat(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 3)), "Tanh"),
    ("LeakyReLU", lambda: _flat(nn.Linear(4, 4), nn.LeakyReLU(), nn.Linear(4, 3)), "LeakyReLU"),
    ("Softmax", lambda: _flat(nn.Linear(4, 3), nn.Softmax(dim=1)), "Softmax"),
    ("MaxPool2d", lambda: _image(nn.MaxPool2d(2), nn.Flatten(), nn.Linear(9, 3)), "MaxPool2d"),
    ("Dropout2d", lambda: _image(nn.Dropout2d(), nn.Flatten(), nn.Linear(36, 3)), "Dropout2d"),
    ("SyncBatchNorm", lambda: _image(nn.SyncBatchNorm(1), nn.Flatten()), "SyncBatchNorm"),
    ("Conv1d", lambda: (nn.Sequential(nn.Conv1d(1, 2, 3)), (1, 6)), "Conv1d"),
    (
        "Conv2d reflect",
        lambda: _image(nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect")),
        "reflect",
    ),
    (
        "Conv2d circular",
        lambda: _image(nn.Conv2d(1, 2, 3, padding=1, padding_mode="circular")),
        "circular",
    ),
    ("Conv2d uneven same", lambda: _image(nn.Conv2d(1, 2, 2, padding="same")), "same"),
    ("Flatten(start_dim=2)", lambda: _image(nn.Flatten(start_dim=2)), "start_dim=2"),
    ("Flatten(0)", lambda: _image(nn.Flatten(0)), "start_dim=0"),
    ("AvgPool2d ceil_mode", lambda: _image(nn.AvgPool2d(4, ceil_mode=True)), "AvgPool2d"),
    ("AvgPool2d divisor", lambda: _image(nn.AvgPool2d(2, divisor_override=1)), "AvgPool2d"),
    (
        "AvgPool2d exclude pad",
        lambda: _image(nn.AvgPool2d(2, padding=1, count_include_pad=False)),
        "AvgPool2d",
    ),
    (
        "BatchNorm without running stats",
        lambda: _image(nn.BatchNorm2d(1, track_running_stats=False)),
        "track_running_stats",
    ),
]


@pytest.mark.parametrize("factory, name", [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
@pytest.mark.parametrize("method", METHODS)
def test_hostile_module_is_refused_naming_it(factory, name, method):
    net, shape = factory()
    net.eval()
    X = torch.rand(2, *shape)
    lower, upper = input_box(X, 0.1)
    with pytest.raises(TypeError, match=re.escape(name)):
        compute_bounds(net, lower, upper, method=method)
    if isinstance(net, nn.Sequential):  # loss fusion walks the same check
        with pytest.raises(TypeError, match=re.escape(name)):
            cross_entropy_upper_bound(net, lower, upper, torch.tensor([0, 1]))


def test_a_skip_connection_would_have_certified_a_misclassified_point_and_is_refused():
    lin = nn.Linear(2, 2)
    with torch.no_grad():
        lin.weight.zero_()
        lin.bias.copy_(torch.tensor([1.0, 0.0]))
    skip = SkipSequential(lin)  # logits lin(x) + x = (1 + x0, x1)
    x = torch.tensor([[0.0, 5.0]])
    assert skip(x).argmax(1).item() == 1  # clean prediction: class 1
    lower, upper = input_box(x, 0.05, clip=None)
    C = margin_matrix(torch.tensor([0]), 2)
    # the layers the old check walked: they certify class 0 (margin 1 - 0 > 0) ...
    lb, _ = compute_bounds(nn.Sequential(*skip), lower, upper, C, method="crown")
    assert (lb > 0).all()
    # ... for a point the real module misclassifies. Now the module is refused.
    with pytest.raises(TypeError, match="SkipSequential.*'forward'"):
        compute_bounds(skip, lower, upper, C, method="crown")


def test_global_forward_hooks_are_refused():
    net = nn.Sequential(nn.Linear(4, 3)).eval()
    lower, upper = input_box(torch.rand(2, 4), 0.1)
    for register in (
        module_globals.register_module_forward_hook,
        module_globals.register_module_forward_pre_hook,
    ):
        handle = register(lambda *args: None)
        try:
            with pytest.raises(TypeError, match="global forward hooks"):
                compute_bounds(net, lower, upper)
        finally:
            handle.remove()
    compute_bounds(net, lower, upper)  # fine again once removed


def test_training_mode_layers_shapes_and_boxes_that_do_not_fit_are_refused():
    X = torch.rand(2, 1, 6, 6)
    lower, upper = input_box(X, 0.1)
    bn = nn.Sequential(nn.BatchNorm2d(1), nn.Flatten(), nn.Linear(36, 3))
    with pytest.raises(ValueError, match=r"'0' \(BatchNorm2d\).*eval"):
        compute_bounds(bn.train(), lower, upper)  # batch statistics, not the running ones
    compute_bounds(bn.eval(), lower, upper)
    drop = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(36, 3)).train()
    with pytest.raises(ValueError, match="Dropout.*eval"):
        compute_bounds(drop, lower, upper, method="ibp")
    compute_bounds(
        nn.Sequential(nn.Flatten(), nn.Dropout(0.0), nn.Linear(36, 3)).train(), lower, upper
    )
    with pytest.raises(ValueError, match="Linear gets examples of shape"):
        compute_bounds(nn.Sequential(nn.Linear(6, 3)).eval(), lower, upper)  # on image rows
    with pytest.raises(ValueError, match="Conv2d gets examples of shape"):
        flat = input_box(torch.rand(2, 36), 0.1)
        compute_bounds(nn.Sequential(nn.Conv2d(1, 1, 3)), *flat, method="ibp")
    net = nn.Sequential(nn.Flatten(), nn.Linear(36, 3))
    for method in METHODS:
        with pytest.raises(ValueError, match="specification C"):
            compute_bounds(net, lower, upper, margin_matrix(torch.tensor([0, 1]), 4), method=method)
    with pytest.raises(ValueError, match="lower <= upper"):
        compute_bounds(net, upper + 0.1, lower)
    with pytest.raises(TypeError, match=r"module_"):
        compute_bounds(RobustNetClassifier(), lower, upper)


# --------------------------------------------------- refused before any epoch
class EpochCounter(Callback):
    def initialize(self):
        self.epochs_ = 0
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.epochs_ += 1


class DoubledMLP(nn.Sequential):
    def __init__(self, input_shape, n_classes):
        super().__init__(nn.Flatten(), nn.Linear(int(np.prod(input_shape)), n_classes))

    def forward(self, x):
        return 2.0 * super().forward(x)


class TanhMLP(nn.Sequential):
    def __init__(self, input_shape, n_classes):
        n = int(np.prod(input_shape))
        super().__init__(nn.Flatten(), nn.Linear(n, 8), nn.Tanh(), nn.Linear(8, n_classes))


def _hooked_instance(input_shape, n_classes):
    net = nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(input_shape)), n_classes))
    net[1].register_forward_hook(lambda m, i, o: o + 1.0)
    return net


@pytest.mark.parametrize(
    "module, name",
    [
        (DoubledMLP, "DoubledMLP"),
        (TanhMLP, "Tanh"),
        (_hooked_instance((1, 8, 8), 2), "hooks"),
        (nn.Sequential(nn.Linear(64, 2)), "Linear gets examples of shape (1, 8, 8)"),
        (nn.Sequential(nn.Flatten(), nn.Linear(64, 5)), "(n, 2)"),
    ],
    ids=["Sequential.forward", "Tanh", "hooked instance", "Linear on images", "logit count"],
)
def test_certified_classifier_refuses_the_module_before_any_epoch(module, name, digits):
    X, _, y, _ = digits
    counter = EpochCounter()
    clf = CertifiedBudgetClassifier(
        module, ramp_start=3, max_epochs=4, callbacks=[counter], verbose=0, random_state=0
    )
    with pytest.raises((TypeError, ValueError), match=re.escape(name)):
        clf.fit(X[:64], y[:64] % 2)
    assert counter.epochs_ == 0  # not after the ramp_start plain-training epochs


class SharedLayersNet(nn.Sequential):
    """One ReLU object run three times and one Linear object run twice (user code does this)."""

    def __init__(self, input_shape, n_classes):
        relu, hidden = nn.ReLU(), nn.Linear(32, 32)
        n = int(np.prod(input_shape))
        super().__init__(
            nn.Flatten(),
            nn.Linear(n, 32),
            relu,
            hidden,
            relu,
            hidden,
            relu,
            nn.Linear(32, n_classes),
        )


def test_a_certified_classifier_of_shared_layers_certifies_only_what_holds(digits):
    """Each run of a shared layer is a layer of the bounds: no certified point is broken by
    PGD (the walk of distinct modules certified points PGD then broke)."""
    X, X_test, y, y_test = digits
    clf = CertifiedBudgetClassifier(
        SharedLayersNet,
        budget_mode="uniform",
        eps0=0.05,
        max_epochs=2,
        ramp_start=0,
        ramp_length=1,
        lr=3e-3,
        verbose=0,
        random_state=0,
    ).fit(X, y)
    certified = clf.certify(X_test, y_test)
    assert 0.05 < certified.mean() < 1.0  # measured 0.10 (46 of 450)
    net = clf.module_.eval()
    x = torch.as_tensor(X_test[certified])
    target = torch.as_tensor(clf.classes_.searchsorted(y_test[certified]))
    adv = pgd(net, x, target, eps=0.05, alpha=0.01, steps=40, random_state=0)
    with torch.no_grad():
        assert (net(adv).argmax(1) == target).all()


def test_certified_classifier_refuses_compile(digits):
    X, _, y, _ = digits
    clf = CertifiedBudgetClassifier(compile=True, max_epochs=1, verbose=0)
    with pytest.raises(TypeError, match="compile=True"):
        clf.fit(X[:64], y[:64] % 2)


def test_a_hook_added_after_fit_is_refused_at_certification(digits):
    X, _, y, _ = digits
    clf = CertifiedBudgetClassifier(
        budget_mode="uniform", eps0=0.05, max_epochs=1, ramp_start=0, verbose=0, random_state=0
    ).fit(X[:64], y[:64])
    handle = clf.module_[1].register_forward_hook(lambda m, i, o: o * 0.0)
    try:
        with pytest.raises(TypeError, match="hooks"):
            clf.certify(X[:4], y[:4])
        with pytest.raises(TypeError, match="hooks"):
            verified_error(clf, X[:4], y[:4])
    finally:
        handle.remove()
    assert clf.certify(X[:4], y[:4]).shape == (4,)


# ------------------------------------------------------------ non-torch models
def test_verified_error_and_certify_of_a_non_torch_model_say_what_is_needed(digits):
    X, _, y, _ = digits
    Xf = X[:60].reshape(60, -1)
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(Xf, y[:60])
    for budget in (0.1, None):
        with pytest.raises(TypeError, match="RandomForestClassifier") as err:
            verified_error(forest, Xf, y[:60], budget=budget)
        message = str(err.value)
        assert "torch" in message and "strateg" not in message
    with pytest.raises(TypeError, match="needs a fitted torch network.*RandomForestClassifier"):
        VerifiedErrorScorer(budget=0.1)(forest, Xf, y[:60])
    with pytest.raises(TypeError, match="unfitted RobustNetClassifier"):
        verified_error(RobustNetClassifier(), Xf, y[:60], budget=0.1)
    clf = CertifiedBudgetClassifier(
        budget_mode="uniform", eps0=0.05, max_epochs=1, ramp_start=0, verbose=0, random_state=0
    ).fit(X[:64], y[:64])
    with pytest.raises(TypeError, match="budget.*RandomForestClassifier"):
        clf.certify(X[:4], y[:4], budget=forest)
    with pytest.raises(ValueError, match="non-negative"):
        verified_error(
            RobustNetClassifier(max_epochs=1, verbose=0).fit(X[:64], y[:64]),
            X[:4],
            y[:4],
            budget=-0.1,
        )


# -------------------------------------- the clean point itself is never certified wrongly
def _linear_net_on_two_features(cls, **params):
    gen = np.random.default_rng(0)
    X = gen.random((40, 2)).astype(np.float32)
    y = (X[:, 0] > 0.5).astype(int)
    net = cls(
        nn.Sequential(nn.Linear(2, 2)), max_epochs=1, verbose=0, random_state=0, **params
    ).fit(X, y)
    with torch.no_grad():  # logits (0.5, -x1)
        net.module_[0].weight.copy_(torch.tensor([[0.0, 0.0], [0.0, -1.0]]))
        net.module_[0].bias.copy_(torch.tensor([0.5, 0.0]))
    return net


def test_an_input_outside_the_valid_range_is_not_certified_when_misclassified():
    # x = (0, -3) lies outside clip=(0, 1): its box [clip(x - eps), clip(x + eps)] holds only
    # x1 = 0 (logits (0.5, 0): class 0), while x itself gives logits (0.5, 3): class 1.
    x, label = np.array([[0.0, -3.0]], np.float32), np.array([0])
    clf = _linear_net_on_two_features(
        CertifiedBudgetClassifier, budget_mode="uniform", eps0=0.1, ramp_start=0, bound="ibp"
    )
    assert clf.predict(x)[0] == 1
    for bound in METHODS:
        assert not clf.certify(x, label, bound=bound)[0]
        assert clf.margin_bounds(x, label, bound=bound)[0, 0] <= 0.5 - 3.0 + 1e-6
    plain = _linear_net_on_two_features(RobustNetClassifier)
    assert verified_error(plain, x, label, budget=0.1) == 1.0


# ------------------------------------- property test over random accepted modules
class StockSequential(nn.Sequential):
    """A Sequential subclass that keeps the stock forward (accepted)."""

    def describe(self):
        return f"{len(self)} layers"


class MyLinear(nn.Linear):
    pass


class MyConv(nn.Conv2d):
    def extra_repr(self):
        return "mine, " + super().extra_repr()


class MyReLU(nn.ReLU):
    pass


class MyBatchNorm2d(nn.BatchNorm2d):
    pass


def _random_bn(cls, n, rng):
    bn = cls(n, affine=rng.random() < 0.7)
    with torch.no_grad():
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.3, 2.0)
        if bn.affine:
            bn.weight.uniform_(-1.5, 1.5)
            bn.bias.uniform_(-0.3, 0.3)
    return bn


def _fits(layer, x):
    try:
        with torch.no_grad():
            y = layer(x)
    except RuntimeError:
        return None
    return y if y.numel() > 0 and min(y.shape[2:], default=1) >= 1 else None


class _Maker:
    """Random layers for :func:`random_net`, some of them shared (one object run twice)."""

    def __init__(self, rng, overwrite):
        self.rng, self.overwrite, self.overwrites = rng, overwrite, False
        self.shared_relu = rng.choice([nn.ReLU(), nn.ReLU(inplace=True), MyReLU()])
        self.blocks: dict = {}  # width -> a Residual block to run again

    def relu(self):
        return self.rng.choice(
            [nn.ReLU(), MyReLU(), nn.ReLU(inplace=True), self.shared_relu, self.shared_relu]
        )

    def block(self, key, branch):
        """A Residual block on features ``key``: a new one, or one already in the net."""
        rng = self.rng
        if key in self.blocks and rng.random() < 0.5:
            return [self.blocks[key]]  # a shared block: the same object runs twice
        body = branch()
        if self.overwrite and rng.random() < 0.5:
            # in place on the block's input: first in the body, or behind an identity
            body = (
                [nn.ReLU(inplace=True)] + body
                if rng.random() < 0.5
                else [nn.Identity(), nn.ReLU(inplace=True)] + body
            )
            self.overwrites = True
        shortcut = None
        if rng.random() < 0.4:
            shortcut = nn.Sequential(*branch()[:1])
            if rng.random() < 0.5:
                shortcut = nn.Sequential(nn.ReLU(inplace=True), *shortcut)  # reads x after the body
        block = nets.Residual(nn.Sequential(*body), shortcut)
        self.blocks[key] = block
        return [block, block] if rng.random() < 0.3 else [block]


def random_net(seed, overwrite=False):
    """A random net of accepted layers, subclasses, nested containers, residual blocks,
    in-place ReLUs anywhere and shared modules (one ReLU, Linear or block object run
    several times), in eval mode. With ``overwrite``, some residual blocks overwrite
    their input in place; returns ``(net, shape, overwrites)``."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    make = _Maker(rng, overwrite)
    c = rng.choice([1, 2])
    shape = (c, 6, 6)
    x = torch.zeros(1, *shape)
    layers = []
    for _ in range(rng.randint(0, 2)):
        out = rng.choice([1, 2, 4])
        k, dilation, stride = rng.choice([1, 2, 3]), rng.choice([1, 2]), rng.choice([1, 2])
        paddings = [0, 1, (0, 1), "valid"]
        if stride == 1 and dilation * (k - 1) % 2 == 0:
            paddings.append("same")
        groups = rng.choice([g for g in (1, 2) if c % g == 0 and out % g == 0])
        conv = rng.choice([nn.Conv2d, MyConv])(
            c,
            out,
            k,
            stride=stride,
            padding=rng.choice(paddings),
            dilation=dilation,
            groups=groups,
            bias=rng.random() < 0.7,
        )
        y = _fits(conv, x)
        if y is None:
            continue
        layers.append(conv)
        x, c = y, out
        if rng.random() < 0.5:
            layers.append(_random_bn(rng.choice([nn.BatchNorm2d, MyBatchNorm2d]), c, rng))
        layers.append(make.relu())
        if rng.random() < 0.4:
            ch = c
            layers += make.block(
                ("conv", ch, tuple(x.shape[2:])),
                lambda ch=ch: [nn.Conv2d(ch, ch, 3, padding=1), make.relu()],
            )
        if rng.random() < 0.5:
            pool = nn.AvgPool2d(rng.choice([1, 2]), stride=rng.choice([1, 2]), padding=0)
            if rng.random() < 0.3 and pool.kernel_size == 2:
                pool = nn.AvgPool2d(2, stride=1, padding=1)
            y = _fits(pool, x)
            if y is not None:
                layers.append(pool)
                x = y
        if rng.random() < 0.3:
            layers.append(rng.choice([nn.Dropout(0.5), nn.Identity()]))
    layers.append(nn.Flatten())
    width = x[0].numel()
    for _ in range(rng.randint(0, 2)):
        units = rng.randint(2, 8)
        layers.append(rng.choice([nn.Linear, MyLinear])(width, units, bias=rng.random() < 0.8))
        if rng.random() < 0.3:
            layers.append(_random_bn(nn.BatchNorm1d, units, rng))
        layers.append(make.relu())
        if rng.random() < 0.4:  # a shared Linear: the same square layer twice
            square = nn.Linear(units, units)
            layers += [square, make.relu(), square, make.relu()]
        if rng.random() < 0.4:
            layers += make.block(
                ("linear", units), lambda u=units: [nn.Linear(u, u), make.relu(), nn.Linear(u, u)]
            )
        if rng.random() < 0.3:
            layers.append(rng.choice([nn.Dropout(0.3), nn.Identity()]))
        width = units
    layers.append(rng.choice([nn.Linear, MyLinear])(width, 3))
    for _ in range(rng.randint(0, 3)):  # nest random runs of layers in containers
        i = rng.randrange(len(layers))
        j = rng.randint(i + 1, len(layers))
        layers[i:j] = [rng.choice([nn.Sequential, StockSequential])(*layers[i:j])]
    net = rng.choice([nn.Sequential, StockSequential])(*layers)
    return net.double().eval(), shape, make.overwrites


def random_accepted_net(seed):
    """A random net :func:`random_net` builds with no block overwriting its input."""
    net, shape, _ = random_net(seed)
    return net, shape


def _attack_margins(net, lower, upper, C, steps=30):
    """The smallest margin a sign-gradient attack finds in each box (from its centre)."""
    net = copy.deepcopy(net)  # the same computation without in-place ReLUs, for autograd
    for m in net.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False
    x = ((lower + upper) / 2).clone()
    alpha = (upper - lower) / 8
    for _ in range(steps):
        x.requires_grad_(True)
        worst = torch.einsum("bsk,bk->bs", C, net(x)).min(1).values
        (grad,) = torch.autograd.grad(worst.sum(), x)
        x = torch.minimum(torch.maximum(x.detach() - alpha * grad.sign(), lower), upper)
    with torch.no_grad():
        return torch.einsum("bsk,bk->bs", C, net(x)).min(1).values


@pytest.mark.parametrize("seed", range(24))
def test_bounds_of_random_accepted_modules_contain_10000_points_and_never_certify_an_error(seed):
    """Shared modules, residual blocks and in-place ReLUs included; PGD breaks no certificate."""
    net, shape = random_accepted_net(seed)
    gen = torch.Generator().manual_seed(seed)
    n = 4
    X = torch.rand(n, *shape, generator=gen, dtype=torch.float64)
    eps = torch.rand(n, *shape, generator=gen, dtype=torch.float64) * 0.1
    eps[: n // 2] *= 0.1  # small boxes: some certificates
    lower, upper = input_box(X, eps)
    with torch.no_grad():
        clean = net(X).argmax(1)
    y = clean.clone()
    y[1::2] = (clean[1::2] + 1) % 3  # every other example is misclassified
    C = margin_matrix(y, 3).double()
    # 5,000 uniform points, 4,999 corners, and the clean input itself
    u = torch.rand(n, 10000, *shape, generator=gen, dtype=torch.float64)
    u[:, 5000:] = u[:, 5000:].round()
    points = lower.unsqueeze(1) + (upper - lower).unsqueeze(1) * u
    points[:, -1] = X
    with torch.no_grad():
        out = net(points.view(-1, *shape)).view(n, 10000, 3)
    margins = torch.einsum("bsk,bnk->bns", C, out)
    tol = 1e-9
    for method in METHODS:
        lb, ub = compute_bounds(net, lower, upper, C, method=method)
        assert (margins >= lb.unsqueeze(1) - tol).all(), method
        assert (margins <= ub.unsqueeze(1) + tol).all(), method
        certified = (lb > 0).all(1)
        assert not (certified & (clean != y)).any(), method
        if certified.any():
            found = _attack_margins(net, lower[certified], upper[certified], C[certified])
            assert (found >= lb[certified].min(1).values - tol).all(), method
        lo, hi = compute_bounds(net, lower, upper, method=method)  # the logits themselves
        assert ((out >= lo.unsqueeze(1) - tol) & (out <= hi.unsqueeze(1) + tol)).all(), method
    ce = nn.functional.cross_entropy(
        out.reshape(-1, 3), y.repeat_interleave(10000), reduction="none"
    )
    worst = ce.view(n, 10000).max(1).values
    for method in ("fused", "ibp", "crown-ibp"):
        assert (cross_entropy_upper_bound(net, lower, upper, y, method=method) >= worst - tol).all()


def _runs(net):
    """Every module call ``net(x)`` makes, shared modules once per call."""
    out = [net]
    for child in net._modules.values():
        if child is None:
            continue
        if isinstance(child, nn.Sequential):
            out += _runs(child)
        elif isinstance(child, nets.Residual):
            out += [child, *_runs(child.body), *(_runs(child.shortcut) if child.shortcut else [])]
        else:
            out.append(child)
    return out


def test_the_random_accepted_modules_are_varied_and_certify_something():
    """The property test is not vacuous: its nets use every accepted kind of module, shared
    modules (a ReLU, a Linear, a residual block run twice) and in-place ReLUs."""
    kinds, certified, shared, inplace = set(), 0, set(), 0
    for seed in range(24):
        net, shape = random_accepted_net(seed)
        kinds |= {type(m) for m in net.modules()}
        runs = _runs(net)
        shared |= {type(m) for m in runs if sum(r is m for r in runs) > 1}
        inplace += sum(isinstance(m, nn.ReLU) and m.inplace for m in runs)
        X = torch.rand(4, *shape, dtype=torch.float64)
        y = net(X).argmax(1)
        lb, _ = compute_bounds(net, *input_box(X, 0.001), margin_matrix(y, 3).double(), "crown")
        certified += int((lb > 0).all(1).sum())
    expected = {
        nn.Sequential,
        StockSequential,
        nn.Linear,
        MyLinear,
        nn.Conv2d,
        MyConv,
        nn.ReLU,
        MyReLU,
        nn.Flatten,
        nn.AvgPool2d,
        nn.BatchNorm1d,
        nn.BatchNorm2d,
        MyBatchNorm2d,
        nn.Dropout,
        nn.Identity,
        nets.Residual,
    }
    assert expected <= kinds
    assert {nn.ReLU, nn.Linear, nets.Residual} <= shared
    assert inplace > 10
    assert certified > 24


@pytest.mark.parametrize("seed", range(24))
def test_random_nets_whose_blocks_overwrite_their_input_are_refused(seed):
    """In-place ReLUs placed anywhere: a net is refused exactly when one of its residual
    blocks overwrites its own input (the walk would bound ``body(x) + x`` where the net
    computes ``body(x) + relu(x)``); every other net's bounds hold on sampled points."""
    net, shape, overwrites = random_net(seed, overwrite=True)
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(3, *shape, generator=gen, dtype=torch.float64)
    lower, upper = input_box(X, 0.05)
    for method in METHODS:
        if overwrites:
            with pytest.raises(TypeError, match="overwritten in place"):
                compute_bounds(net, lower, upper, method=method)
            continue
        lo, hi = compute_bounds(net, lower, upper, method=method)
        u = torch.rand(3, 2000, *shape, generator=gen, dtype=torch.float64)
        with torch.no_grad():
            out = net((lower.unsqueeze(1) + (upper - lower).unsqueeze(1) * u).view(-1, *shape))
        out = out.view(3, 2000, 3)
        assert ((out >= lo.unsqueeze(1) - 1e-9) & (out <= hi.unsqueeze(1) + 1e-9)).all(), method


def test_the_overwriting_nets_are_refused_often_and_accepted_otherwise():
    flags = [random_net(seed, overwrite=True)[2] for seed in range(24)]
    assert 4 <= sum(flags) <= 20


def test_a_patched_stock_layer_is_refused(monkeypatch):
    net = nn.Sequential(nn.Linear(4, 3)).eval()
    lower, upper = input_box(torch.rand(2, 4), 0.1)
    monkeypatch.setattr(nn.Linear, "forward", lambda self, x: x[:, :3] + 1.0)
    with pytest.raises(TypeError, match=r"nn\.Linear\.forward was replaced"):
        compute_bounds(net, lower, upper)


@pytest.mark.parametrize("method", METHODS)
def test_batch_norm_1d_on_sequences_is_bounded_soundly(method):
    """BatchNorm1d also takes (n, channels, length) examples; the bounds follow it there."""
    rng = random.Random(0)
    net = nn.Sequential(
        _random_bn(nn.BatchNorm1d, 3, rng), nn.ReLU(), nn.Flatten(), nn.Linear(15, 3)
    ).double()
    net.eval()
    gen = torch.Generator().manual_seed(0)
    X = torch.rand(2, 3, 5, generator=gen, dtype=torch.float64)
    lower, upper = input_box(X, 0.1)
    u = torch.rand(2, 10000, 3, 5, generator=gen, dtype=torch.float64)
    u[:, 5000:] = u[:, 5000:].round()
    points = lower.unsqueeze(1) + (upper - lower).unsqueeze(1) * u
    with torch.no_grad():
        out = net(points.view(-1, 3, 5)).view(2, 10000, 3)
    lo, hi = compute_bounds(net, lower, upper, method=method)
    assert ((out >= lo.unsqueeze(1) - 1e-9) & (out <= hi.unsqueeze(1) + 1e-9)).all()


@pytest.mark.parametrize("method", ["ibp", "crown-ibp", "crown"])
def test_a_box_of_another_dtype_than_the_module_is_a_clear_error(method):
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)).eval()
    lower, upper = input_box(torch.rand(2, 4, dtype=torch.float64), 0.1)
    with pytest.raises(
        ValueError, match=r"Linear.weight is torch.float32 .* input box is torch.float64"
    ):
        compute_bounds(net, lower, upper, method=method)
