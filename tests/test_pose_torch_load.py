"""Loading a torch pose checkpoint does no throw-away work: the network is never randomly initialised in real
memory, it takes the checkpoint's tensors as they are where it can (issue 16, goal 5), and it computes exactly
what a network built and then loaded computes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed: the torch pose runner is optional")

from studio.pipeline.pose.backend import BackendError  # noqa: E402
from studio.pipeline.pose.torch_backend import build_network, network_for  # noqa: E402

DEPTH, DECONVS = 18, ((32, 4),) * 3  # a small network: the test is about loading, not size


def _state(seed: int = 0) -> dict[str, Any]:
    torch.manual_seed(seed)
    net = build_network(DEPTH, deconvs=DECONVS)
    with torch.no_grad():  # trained-looking statistics, so that eval-mode batch norm matters
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.num_batches_tracked.fill_(1234)
    return net.state_dict()


def test_the_network_is_never_randomly_initialised_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    state = _state()
    real: list[str] = []
    original = torch.nn.init.kaiming_uniform_

    def counting(tensor: Any, *args: Any, **kwargs: Any) -> Any:
        if tensor.device.type != "meta":
            real.append(str(tuple(tensor.shape)))
        return original(tensor, *args, **kwargs)

    monkeypatch.setattr(torch.nn.init, "kaiming_uniform_", counting)
    net = network_for(state)
    assert real == []
    assert all(t.device.type == "cpu" for t in net.state_dict().values())


def test_the_loaded_network_equals_one_built_then_loaded() -> None:
    state = _state(1)
    expected = build_network(DEPTH, deconvs=DECONVS)
    expected.load_state_dict(state)
    expected.eval()
    net = network_for(state)
    assert not net.training
    for key, value in expected.state_dict().items():
        assert torch.equal(net.state_dict()[key], value), key
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 3, 256, 192)).astype(np.float32))
    with torch.inference_mode():
        assert torch.equal(net(x), expected(x))


def test_buffers_the_checkpoint_lacks_are_zero_not_uninitialised() -> None:
    state = {k: v for k, v in _state().items() if not k.endswith("num_batches_tracked")}
    net = network_for(state)
    counts = [v for k, v in net.state_dict().items() if k.endswith("num_batches_tracked")]
    assert counts and all(int(c) == 0 for c in counts)


def test_loading_imports_nothing_torch_itself_did_not(tmp_path: Path) -> None:
    """torch's Module.to_empty imported sympy (0.25-0.4 s of a cold start) to allocate the network's memory."""
    path = tmp_path / "small.pth"
    torch.save({"state_dict": _state()}, path)
    code = ("import sys, torch\nbefore = set(sys.modules)\n"
            "from studio.pipeline.pose.torch_backend import load_state_dict, network_for\n"
            f"network_for(load_state_dict({str(path)!r}))\n"
            "print(sorted({m.split('.')[0] for m in set(sys.modules) - before}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "sympy" not in out, out


def test_the_checkpoints_tensors_become_the_weights_without_a_copy() -> None:
    state = _state()
    net = network_for(state)
    key = "backbone.layer1.0.conv1.weight"
    assert net.state_dict()[key].data_ptr() == state[key].data_ptr()


def test_a_half_precision_checkpoint_is_copied_into_a_float_network() -> None:
    state = {k: v.half() if v.is_floating_point() else v for k, v in _state(2).items()}
    net = network_for(state)
    assert all(p.dtype == torch.float32 for p in net.parameters())
    assert torch.equal(net.state_dict()["keypoint_head.final_layer.weight"],
                       state["keypoint_head.final_layer.weight"].float())


def test_without_assign_the_weights_are_copied_in_and_equal(monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.pipeline.pose import torch_backend

    monkeypatch.setattr(torch_backend, "_assigns", lambda torch: False)  # torch 2.0, as the TorchServe images
    state = _state(3)
    net = network_for(state)
    for key, value in state.items():
        assert torch.equal(net.state_dict()[key], value), key
    assert net.state_dict()["backbone.conv1.weight"].data_ptr() != state["backbone.conv1.weight"].data_ptr()


@pytest.mark.parametrize("assign", [True, False])
def test_a_tensor_of_the_wrong_shape_is_named(monkeypatch: pytest.MonkeyPatch, assign: bool) -> None:
    from studio.pipeline.pose import torch_backend

    monkeypatch.setattr(torch_backend, "_assigns", lambda torch: assign)
    state = _state()
    state["keypoint_head.final_layer.bias"] = torch.zeros(5)
    with pytest.raises(BackendError, match=r"tensor shapes do not fit ResNet-18 .*final_layer\.bias"):
        network_for(state)
