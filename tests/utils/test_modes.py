"""robustsk.utils.eval_mode: restores the previous mode, nests, and is safe across threads."""

import threading

import pytest
from torch import nn

from robustsk.utils import eval_mode


def test_restores_the_previous_mode_also_on_error():
    net, other = nn.Linear(2, 2), nn.Linear(2, 2).eval()
    with eval_mode(net, None, other):
        assert not net.training and not other.training
    assert net.training and not other.training
    with pytest.raises(RuntimeError), eval_mode(net):
        assert not net.training
        raise RuntimeError
    assert net.training


def test_nested_blocks_restore_only_when_the_outer_one_closes():
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout())
    with eval_mode(net):
        with eval_mode(net):
            pass
        assert not net.training and not net[1].training
    assert net.training and net[1].training


def test_overlapping_threads_keep_eval_mode_until_the_last_one_leaves():
    """Thread A enters, B enters, A leaves: B must still run in eval mode."""
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout())
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with eval_mode(net):
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b():
        a_in.wait(5)
        with eval_mode(net):
            b_in.set()
            a_out.wait(5)
            seen["b_after_a_left"] = net.training
        seen["after_both"] = net.training

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"b_after_a_left": False, "after_both": True}
