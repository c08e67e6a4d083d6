"""The embedded pose model's network, weight file and backend plumbing (the trained weights are judged by
training/evaluate.py, not here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from studio.core.annotate import auto_backend_name, make_backend  # noqa: E402
from studio.pipeline.pose.backend import BackendError  # noqa: E402
from studio.pipeline.pose.embedded import (FLIP_SHIFT, HEATMAP_WH, INPUT_WH, available, build_network,  # noqa: E402
                                           load_network, predict, save_weights)


def test_network_shapes_and_size() -> None:
    net = build_network().eval()
    out = net(torch.zeros(2, 3, INPUT_WH[1], INPUT_WH[0]))
    assert tuple(out.shape) == (2, 17, HEATMAP_WH[1], HEATMAP_WH[0])
    megabytes = sum(p.numel() for p in net.parameters()) * 4 / 1e6
    assert megabytes < 25  # the cap for the shipped weights


def test_weights_round_trip_and_predict_in_image_pixels(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = build_network().eval()
    path = tmp_path / "w.pt"
    save_weights(net, path, {"epoch": 3})
    loaded = load_network(path)
    image = np.full((300, 200, 3), 255, np.uint8)
    box = (40.0, 30.0, 160.0, 270.0)
    a, b = predict(net, image, box), predict(loaded, image, box)
    np.testing.assert_allclose(a, b)
    assert a.shape == (17, 3) and available(path)
    # keypoints land in the padded crop around the box (a random net's peaks are anywhere in it)
    from studio.pipeline.pose.decode import box_center_size

    center, size = box_center_size(box, INPUT_WH)
    cell = size / np.array(HEATMAP_WH)
    assert (a[:, :2] >= center - size / 2 - cell - 1e-9).all() and (a[:, :2] <= center + size / 2).all()


def test_missing_corrupt_and_foreign_weights_give_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import studio.pipeline.pose.embedded as embedded

    with pytest.raises(BackendError, match="no weights file at .*none.pt"):  # a typo, not a missing download
        load_network(tmp_path / "none.pt")
    monkeypatch.setattr(embedded, "WEIGHTS", tmp_path / "shipped.pt")
    with pytest.raises(BackendError, match="weights are missing .*training/train.py"):
        load_network()
    bad = tmp_path / "bad.pt"
    for content in (b"not a checkpoint", b""):
        bad.write_bytes(content)
        with pytest.raises(BackendError, match="bad.pt: it is not a torch weights file, or it is damaged$"):
            load_network(bad)
    evil = tmp_path / "evil.pt"
    torch.save({"format": "drawing-studio-pose-v1", "run": print}, evil)  # a pickled callable
    with pytest.raises(BackendError, match="holds Python objects, which the studio never unpickles") as caught:
        load_network(evil)
    assert "weights_only=False" not in str(caught.value)  # never the advice to load it unsafely
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(BackendError, match="not a Drawing Studio pose model"):
        load_network(foreign)
    net = build_network()
    for width, match in (("wide", "width 'wide' is not a whole number"), (10**6, "width 1000000 is not")):
        odd = tmp_path / "odd.pt"
        torch.save({"format": "drawing-studio-pose-v1", "width": width, "state_dict": net.state_dict()}, odd)
        with pytest.raises(BackendError, match=match):
            load_network(odd)
    partial = tmp_path / "partial.pt"
    state = dict(net.state_dict())
    state.pop(next(iter(state)))
    torch.save({"format": "drawing-studio-pose-v1", "state_dict": state}, partial)
    with pytest.raises(BackendError, match="does not fit the embedded network: Missing key"):
        load_network(partial)
    assert not available(tmp_path / "none.pt")


@pytest.mark.slow  # end to end: `studio annotate` in a subprocess, twice
def test_broken_weights_fail_the_rig_instead_of_passing_a_collapsed_skeleton(tmp_path: Path) -> None:
    """Zeroed weights put every joint on one spot with score 0 (which is never 'unsure'); NaN weights give NaN.
    Both used to come out as a 16-joint character and exit 0."""
    import subprocess
    import sys

    import cv2

    picture = np.full((400, 300, 3), 240, np.uint8)
    cv2.circle(picture, (150, 90), 40, (30, 30, 30), 4)
    cv2.line(picture, (150, 130), (150, 300), (30, 30, 30), 6)
    drawing = tmp_path / "drawing.png"
    cv2.imwrite(str(drawing), picture)
    for fill, match in ((0.0, "put every joint on the same spot"), (float("nan"), "invalid numbers")):
        net = build_network()
        with torch.no_grad():
            for p in net.parameters():
                p.fill_(fill)
        weights = tmp_path / "broken.pt"
        save_weights(net, weights)
        for command in (["annotate", str(drawing), "-o", str(tmp_path / "out")], ["pose", str(drawing), "--json"]):
            result = subprocess.run([sys.executable, "-m", "studio.cli.main", *command, "--backend", "embedded",
                                     "--checkpoint", str(weights)], capture_output=True, text=True, timeout=120)
            assert result.returncode == 1 and match in result.stderr and "Traceback" not in result.stderr
            assert "NaN" not in result.stdout and not (tmp_path / "out").exists()


def test_auto_picks_embedded_only_when_its_weights_exist() -> None:
    expected = "embedded" if available() else "manual"
    assert auto_backend_name() == expected and make_backend("auto").name == expected
    # a configured endpoint wins: teams that serve AD's models keep using them
    assert auto_backend_name("http://127.0.0.1:8080") == "torchserve"
    assert make_backend("auto", endpoint="http://127.0.0.1:8080").name == "torchserve"


class InkSpotNet(torch.nn.Module):
    """A stand-in network: a left-wrist (COCO 9) peak on each input's darkest pixel, nothing else."""

    def forward(self, x: "torch.Tensor") -> "torch.Tensor":
        out = torch.zeros(x.shape[0], 17, HEATMAP_WH[1], HEATMAP_WH[0])
        for b in range(x.shape[0]):
            y, x_ = divmod(int(x[b].sum(0).argmin()), x.shape[3])
            out[b, 9, y // 4, x_ // 4] = 1.0
        return out


def test_flip_test_mirrors_the_second_pass_back_and_swaps_left_and_right() -> None:
    image = np.full((400, 300, 3), 255, np.uint8)
    image[150:158, 90:98] = 0  # one ink spot, left of the box's centre
    box = (50.0, 50.0, 250.0, 350.0)
    one = predict(InkSpotNet(), image, box, flip=False, limbs=False, scales=(1.0,))
    both = predict(InkSpotNet(), image, box, flip=True, limbs=False, scales=(1.0,))
    from studio.pipeline.pose.decode import box_center_size

    cell = float(box_center_size(box, INPUT_WH)[1][0] / HEATMAP_WH[0])  # image px per heatmap px (11.7 here)
    assert one[9, 2] == 1.0 and one[10, 2] == 0.0
    assert np.abs(one[9, :2] - [94, 154]).max() < 1.5 * cell
    # the mirrored pass saw the spot on the other side and called it a left wrist too: mapped back, it is
    # the right wrist at the same place, and each side gets half the vote (the mirrored one-px peak is moved by
    # FLIP_SHIFT = 0.75 px, so it spreads 0.75 / 0.25 over two px)
    assert both[9, 2] == pytest.approx(0.5) and both[10, 2] == pytest.approx(0.5 * FLIP_SHIFT)
    assert np.abs(both[10, :2] - both[9, :2]).max() < 1.5 * cell


def _flipped_copy(folder: Path, offset: int = 1_000_000, length: int = 4096) -> Path:
    """A copy of the shipped weights and their checksum file with ``length`` bytes inverted at ``offset``: it
    still loads (torch does not check the data), and its keypoint scores run into the hundreds."""
    from studio.pipeline.pose.embedded import WEIGHTS, checksum_file

    data = bytearray(WEIGHTS.read_bytes())
    data[offset:offset + length] = bytes(b ^ 0xFF for b in data[offset:offset + length])
    damaged = folder / WEIGHTS.name
    damaged.write_bytes(bytes(data))
    checksum_file(damaged).write_bytes(checksum_file(WEIGHTS).read_bytes())
    return damaged


def test_damaged_shipped_weights_are_refused_by_their_checksum(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import studio.pipeline.pose.embedded as embedded

    shipped = embedded.WEIGHTS
    damaged = _flipped_copy(tmp_path)
    monkeypatch.setattr(embedded, "WEIGHTS", damaged)
    with pytest.raises(BackendError, match=r"^cannot load the embedded pose weights pose_embedded.pt: they are "
                                           r"damaged \(their sha256 does not match pose_embedded.pt.sha256\)"):
        load_network()
    damaged.write_bytes(shipped.read_bytes())
    load_network()  # the same check passes the shipped bytes
    embedded.checksum_file(damaged).unlink()
    with pytest.raises(BackendError, match="checksum file pose_embedded.pt.sha256 is missing"):
        load_network()


def test_save_weights_records_the_checksum_the_loader_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """training/train.py writes the shipped weights with save_weights: their checksum file must follow."""
    import hashlib

    import studio.pipeline.pose.embedded as embedded

    path = tmp_path / "pose_embedded.pt"
    save_weights(build_network(), path)
    digest, name = embedded.checksum_file(path).read_text().split()
    assert name == "pose_embedded.pt" and digest == hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setattr(embedded, "WEIGHTS", path)
    load_network()


def test_damaged_weights_given_as_a_checkpoint_are_caught_by_their_output(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """A --checkpoint is not checksummed (it is the user's own file), but its keypoints are still judged: flipped
    bytes gave scores up to 324 and annotate wrote a character from them with exit 0."""
    from studio.core.annotate import annotate
    from studio.cli.main import main

    import cv2

    damaged = _flipped_copy(tmp_path)
    picture = np.full((400, 300, 3), 240, np.uint8)
    cv2.circle(picture, (150, 90), 40, (30, 30, 30), 4)
    cv2.line(picture, (150, 130), (150, 300), (30, 30, 30), 6)
    cv2.line(picture, (150, 180), (90, 240), (30, 30, 30), 6)
    drawing = tmp_path / "drawing.png"
    cv2.imwrite(str(drawing), picture)
    backend = make_backend("embedded", checkpoint=str(damaged))
    with pytest.raises(BackendError, match=r"the embedded pose model returned a keypoint score of \d+, outside 0\.\.1"):
        annotate(drawing, backend)
    out = tmp_path / "character"
    assert main(["annotate", str(drawing), "-o", str(out), "--backend", "embedded", "--checkpoint", str(damaged)]) == 1
    assert "outside 0..1" in capsys.readouterr().err and not out.exists()


class WeakPeakNet(torch.nn.Module):
    """A stand-in network: every joint a clear peak of 0.9, but the left elbow (COCO 7) a faint one of 0.4."""

    def forward(self, x: "torch.Tensor") -> "torch.Tensor":
        out = torch.zeros(x.shape[0], 17, HEATMAP_WH[1], HEATMAP_WH[0])
        for j in range(17):
            out[:, j, 4 + j, 12] = 0.4 if j == 7 else 0.9
        return out


def test_a_weak_peak_is_ringed_unsure_by_the_studios_decoding() -> None:
    from studio.pipeline.pose.backend import UNSURE_SCORE
    from studio.pipeline.pose.embedded import LOW_PEAK

    image = np.full((400, 300, 3), 255, np.uint8)
    box = (50.0, 50.0, 250.0, 350.0)
    studio = predict(WeakPeakNet(), image, box, flip=False, limbs=True, scales=(1.0,))
    plain = predict(WeakPeakNet(), image, box, flip=False, limbs=False, scales=(1.0,))
    assert 0.4 < LOW_PEAK < 0.9
    assert studio[7, 2] < UNSURE_SCORE and plain[7, 2] == pytest.approx(0.4)  # ringed; argmax keeps the peak
    assert (np.delete(studio[:, 2], 7) == pytest.approx(0.9)) and np.allclose(studio[:, :2], plain[:, :2])


def test_a_stride_two_network_gives_64_by_48_heatmaps_and_its_weights_say_so(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = build_network(stride=2).eval()
    out = net(torch.zeros(1, 3, INPUT_WH[1], INPUT_WH[0]))
    assert tuple(out.shape) == (1, 17, INPUT_WH[1] // 2, INPUT_WH[0] // 2)
    assert sum(p.numel() for p in net.parameters()) * 4 / 1e6 < 25
    path = tmp_path / "s2.pt"
    save_weights(net, path)
    loaded = load_network(path)
    assert loaded.stride == 2
    image = np.full((300, 200, 3), 255, np.uint8)
    image[100:110, 60:70] = 0
    box = (40.0, 30.0, 160.0, 270.0)
    np.testing.assert_allclose(predict(net, image, box), predict(loaded, image, box))
    odd = tmp_path / "odd.pt"
    torch.save({"format": "drawing-studio-pose-v1", "width": 32, "stride": 3, "state_dict": net.state_dict()}, odd)
    with pytest.raises(BackendError, match="odd.pt is damaged: its output stride 3 is neither 2 nor 4"):
        load_network(odd)
    with pytest.raises(BackendError, match="output stride is 2 or 4, not 8"):
        build_network(stride=8)


class CornerNet(torch.nn.Module):  # type: ignore[misc]
    """Puts every joint's peak on the heatmap cell at a given share of the output's width and height."""

    def __init__(self, stride: int, at: tuple[float, float]) -> None:
        super().__init__()
        self.stride, self.at = stride, at

    def forward(self, x: "torch.Tensor") -> "torch.Tensor":
        h, w = x.shape[2] // self.stride, x.shape[3] // self.stride
        out = torch.zeros(x.shape[0], 17, h, w)
        out[:, :, int(self.at[1] * h), int(self.at[0] * w)] = 1.0
        return out


def test_predict_reads_the_heatmap_size_off_the_network() -> None:
    """The same cell at stride 4 and 2 maps to the same image px (within the finer grid's half cell)."""
    image = np.full((300, 200, 3), 255, np.uint8)
    box = (40.0, 30.0, 160.0, 270.0)
    four = predict(CornerNet(4, (0.5, 0.25)), image, box, flip=False, limbs=False, scales=(1.0,))
    two = predict(CornerNet(2, (0.5, 0.25)), image, box, flip=False, limbs=False, scales=(1.0,))
    from studio.pipeline.pose.decode import box_center_size

    center, size = box_center_size(box, INPUT_WH)
    np.testing.assert_allclose(four[:, :2], np.broadcast_to(center - size / 2 + size * [0.5, 0.25], (17, 2)))
    np.testing.assert_allclose(two[:, :2], four[:, :2])
