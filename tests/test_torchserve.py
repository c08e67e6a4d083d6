"""The TorchServe backend against a real TorchServe on loopback (tiny handler-only models), plus stub-server faults."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from torchserve_fixture import LocalTorchServe, free_ports, missing_tools, reply, start_torchserve, stub_server

from studio.pipeline.pose.backend import BackendError, Detection, PoseBackend
from studio.pipeline.pose.torchserve import TorchServeBackend

pytestmark = pytest.mark.slow  # end to end: a real TorchServe, and stub servers that time out


def drawing(h: int = 120, w: int = 160, box: tuple[int, int, int, int] = (40, 20, 100, 110)) -> np.ndarray:
    """(h, w, 3) uint8 white page with a dark figure filling ``box`` (left, top, right, bottom), with a hole."""
    img = np.full((h, w, 3), 255, np.uint8)
    left, top, right, bottom = box
    img[top:bottom, left:right] = (30, 40, 50)
    img[top + 5:bottom - 5, left + 5:right - 5] = 255
    return img


# --- a real TorchServe --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTorchServe]:
    """TorchServe 0.12 with the project's test models, on free loopback ports; stopped afterwards."""
    why = missing_tools()
    if why:
        pytest.skip(f"no real TorchServe: {why}")
    try:
        ts = start_torchserve(tmp_path_factory.mktemp("torchserve"))
    except RuntimeError as exc:
        pytest.fail(str(exc))
    print(f"TorchServe ready in {ts.startup_s:.1f} s")
    yield ts
    ts.stop()


def backend(server: LocalTorchServe, **kw: object) -> TorchServeBackend:
    options: dict[str, object] = {"detector_model": "detector", "pose_model": "pose", "deadline": 20.0, **kw}
    return TorchServeBackend(server.inference_url, **options)  # type: ignore[arg-type]


def test_it_is_a_pose_backend(server: LocalTorchServe) -> None:
    b: PoseBackend = backend(server)
    assert b.name == "torchserve"


def test_ping(server: LocalTorchServe) -> None:
    assert backend(server).ping() == "Healthy"


def test_detect_returns_the_ink_box(server: LocalTorchServe) -> None:
    found = backend(server).detect(drawing())
    assert found == [Detection((40.0, 20.0, 100.0, 110.0), pytest.approx(0.99))]


def test_detect_on_a_blank_page_finds_nothing(server: LocalTorchServe) -> None:
    assert backend(server).detect(np.full((50, 60, 3), 255, np.uint8)) == []


def test_pose_keypoints_are_in_image_px(server: LocalTorchServe) -> None:
    """The handler lays its skeleton out in the crop it receives; the client must shift it back by the box."""
    box = (40.0, 20.0, 100.0, 110.0)
    result = backend(server).pose(drawing(), box)
    kp = result.keypoints
    assert kp.shape == (17, 3) and result.notes == ()
    # nose at (0.5, 0.1) of the 60×90 crop, left ankle at (0.64, 0.95)
    assert kp[0, :2] == pytest.approx((40 + 30, 20 + 9))
    assert kp[15, :2] == pytest.approx((40 + 0.64 * 60, 20 + 0.95 * 90))
    assert (kp[:, 0] >= 40).all() and (kp[:, 0] <= 100).all() and (kp[:, 1] >= 20).all() and (kp[:, 1] <= 110).all()
    assert (kp[:, 2] > 0.8).all()


def test_pose_clips_a_box_that_overhangs_the_image(server: LocalTorchServe) -> None:
    kp = backend(server).pose(drawing(), (-10.0, -10.0, 60.0, 50.0)).keypoints
    assert kp[0, :2] == pytest.approx((30, 5))  # crop (0, 0)–(60, 50): nose at (0.5·60, 0.1·50)


def test_detect_then_pose_round_trip(server: LocalTorchServe) -> None:
    b = backend(server)
    img = drawing(box=(13, 7, 77, 101))
    best = b.detect(img)[0]
    kp = b.pose(img, best.box).keypoints
    assert kp[16, :2] == pytest.approx((13 + 0.36 * 64, 7 + 0.95 * 94))


def test_several_skeletons_pick_the_most_confident_and_say_so(server: LocalTorchServe) -> None:
    result = backend(server, pose_model="pose_two").pose(drawing(), (40, 20, 100, 110))
    assert result.keypoints[:, 2].mean() > 0.9  # the second, more confident one (full size, not shrunk)
    assert result.keypoints[0, :2] == pytest.approx((70, 29))
    assert len(result.notes) == 1 and "2 skeletons" in result.notes[0] and "most confident" in result.notes[0]


def test_no_skeleton_is_a_clear_error(server: LocalTorchServe) -> None:
    with pytest.raises(BackendError, match="No figure found by the pose model"):
        backend(server, pose_model="pose_none").pose(drawing(), (40, 20, 100, 110))


def test_missing_model_is_a_404_that_names_it(server: LocalTorchServe) -> None:
    b = backend(server, detector_model="drawn_humanoid_detector")
    with pytest.raises(BackendError, match=r"'drawn_humanoid_detector' is not registered.*\.mar"):
        b.detect(drawing())


def test_500_carries_the_servers_message_and_the_mmcv_hint(server: LocalTorchServe) -> None:
    with pytest.raises(BackendError) as err:
        backend(server, pose_model="pose_fault").pose(drawing(), (40, 20, 100, 110))
    text = str(err.value)
    assert "500" in text and "simulated fault for tests" in text
    assert "FORCE_CUDA=1" in text and "TORCH_CUDA_ARCH_LIST" in text


def test_invalid_json_reply(server: LocalTorchServe) -> None:
    with pytest.raises(BackendError, match="not valid JSON"):
        backend(server, pose_model="pose_badjson").pose(drawing(), (40, 20, 100, 110))


def test_wrong_json_shape_names_the_model(server: LocalTorchServe) -> None:
    """A pose model registered under the detector's name: valid JSON, wrong shape."""
    with pytest.raises(BackendError, match=r"model 'pose' replied .* not \[\{\"bbox\""):
        backend(server, detector_model="pose").detect(drawing())
    with pytest.raises(BackendError, match=r"model 'detector' replied .* not \[\{\"keypoints\""):
        backend(server, pose_model="detector").pose(drawing(), (40, 20, 100, 110))


def test_a_box_outside_the_image_is_refused_before_any_request() -> None:
    b = TorchServeBackend(f"http://127.0.0.1:{free_ports(1)[0]}", retries=0)
    with pytest.raises(BackendError, match="does not cover"):
        b.pose(drawing(), (500, 500, 600, 600))


# --- faults a real server cannot show on demand ---------------------------------------------------------------

def test_a_server_that_is_down_is_retried_then_reported() -> None:
    port = free_ports(1)[0]
    b = TorchServeBackend(f"http://127.0.0.1:{port}", retries=2, backoff=0.05)
    t0 = time.monotonic()
    with pytest.raises(BackendError, match=r"Cannot reach TorchServe .*3 attempts.*torchserve --start"):
        b.detect(drawing())
    assert 0.14 <= time.monotonic() - t0 < 2.0  # slept 0.05 + 0.1 between the three attempts


def test_an_unknown_host_is_reported() -> None:
    b = TorchServeBackend("http://no-such-host.invalid:8080", retries=0)
    with pytest.raises(BackendError, match="Cannot reach TorchServe"):
        b.ping()


def test_connection_failures_are_retried_but_http_errors_are_not() -> None:
    calls: list[str] = []

    def respond(h) -> None:  # type: ignore[no-untyped-def]
        calls.append(h.path)
        reply(h, 500, json.dumps({"code": 500, "type": "InternalServerException", "message": "boom"}))

    with stub_server(respond) as url:
        with pytest.raises(BackendError, match="boom"):
            TorchServeBackend(url, retries=3, backoff=0.01).detect(drawing())
    assert calls == ["/predictions/drawn_humanoid_detector"]


def test_a_slow_server_times_out_without_retrying() -> None:
    calls: list[str] = []

    def respond(h) -> None:  # type: ignore[no-untyped-def]
        calls.append(h.path)
        time.sleep(1.0)
        reply(h, 200, "[]")

    with stub_server(respond) as url:
        t0 = time.monotonic()
        with pytest.raises(BackendError, match=r"No complete reply from .*/predictions/pose within 0.3 s"):
            TorchServeBackend(url, pose_model="pose", deadline=0.3, retries=3).pose(drawing(), (0, 0, 50, 50))
        assert time.monotonic() - t0 < 0.9
    assert len(calls) == 1


@pytest.mark.parametrize("status", [400, 401])
def test_token_auth_errors_say_what_to_do(status: int) -> None:
    seen: list[str | None] = []

    def respond(h) -> None:  # type: ignore[no-untyped-def]
        seen.append(h.headers.get("Authorization"))
        reply(h, status, json.dumps({"code": status, "type": "InvalidKeyException",
                                     "message": "Token Authorization failed. Token either incorrect, expired, or "
                                                "not provided correctly"}))

    with stub_server(respond) as url:
        with pytest.raises(BackendError, match=r"token authorization is on; pass the inference key.*"
                                               r"--disable-token-auth"):
            TorchServeBackend(url).ping()
        with pytest.raises(BackendError, match=r"rejected the key given"):
            TorchServeBackend(url, token="s3cret").detect(drawing())
    assert seen == [None, "Bearer s3cret"]


def test_the_token_is_sent_as_a_bearer_header() -> None:
    seen: list[str | None] = []

    def respond(h) -> None:  # type: ignore[no-untyped-def]
        seen.append(h.headers.get("Authorization"))
        reply(h, 200, json.dumps({"status": "Healthy"}))

    with stub_server(respond) as url:
        assert TorchServeBackend(url + "/", token="abc").ping() == "Healthy"
    assert seen == ["Bearer abc"]


def test_an_unhealthy_ping_is_an_error() -> None:
    with stub_server(lambda h: reply(h, 200, json.dumps({"status": "Partial Healthy"}))) as url:
        with pytest.raises(BackendError, match="not Healthy"):
            TorchServeBackend(url).ping()


def test_detections_are_sorted_best_first() -> None:
    boxes = [{"bbox": [1, 2, 3, 4], "score": 0.2, "class_name": "human"},
             {"bbox": [9, 8, 5, 6], "score": 0.9, "class_name": "human"}]
    with stub_server(lambda h: reply(h, 200, json.dumps(boxes))) as url:
        found = TorchServeBackend(url).detect(drawing())
    assert found == [Detection((5.0, 6.0, 9.0, 8.0), 0.9), Detection((1.0, 2.0, 3.0, 4.0), 0.2)]


def test_a_base_url_with_a_path_prefix(tmp_path: Path) -> None:
    paths: list[str] = []

    def respond(h) -> None:  # type: ignore[no-untyped-def]
        paths.append(h.path)
        reply(h, 200, "[]")

    with stub_server(respond) as url:
        assert TorchServeBackend(url + "/ts/").detect(drawing()) == []
    assert paths == ["/ts/predictions/drawn_humanoid_detector"]


# --- studio doctor and studio annotate against the real server ---------------------------------------------

def test_doctor_probes_a_healthy_server(server: LocalTorchServe) -> None:
    from studio.core.doctor import OK, check_torchserve

    checks = check_torchserve(server.inference_url, server.management_url, models=("detector", "pose"))
    by_name = {c.name: c for c in checks}
    assert by_name["torchserve ping"].status == OK
    assert by_name["model pose"].status == OK and "READY" in by_name["model pose"].detail
    assert by_name["prediction: detector"].status == OK and by_name["prediction: pose"].status == OK


def test_doctor_explains_healthy_but_failing_predictions(server: LocalTorchServe) -> None:
    """The seed team's wall: /ping says Healthy while every prediction is a 500."""
    from studio.core.doctor import OK, PROBLEM, check_torchserve, exit_code

    checks = check_torchserve(server.inference_url, models=("detector", "pose_fault"))
    by_name = {c.name: c for c in checks}
    assert by_name["torchserve ping"].status == OK
    failing = by_name["prediction: pose"]
    assert failing.status == PROBLEM and "FORCE_CUDA=1" in failing.fix
    assert exit_code(checks) == 1


def test_doctor_and_annotate_refuse_a_reply_no_pose_model_gives(server: LocalTorchServe, tmp_path: Path) -> None:
    """The handler's 'wild' variant: scores of 50 and the nose at 1e9 px, AD's reply shape otherwise. doctor used
    to say all well, and annotate wrote a character from it."""
    from studio.core.annotate import annotate
    from studio.core.doctor import OK, PROBLEM, check_torchserve, exit_code

    checks = check_torchserve(server.inference_url, models=("detector", "pose_wild"))
    by_name = {c.name: c for c in checks}
    assert by_name["prediction: detector"].status == OK
    assert by_name["prediction: pose"].status == PROBLEM and "score of 50" in by_name["prediction: pose"].detail
    assert exit_code(checks) == 1
    path = tmp_path / "figure.png"
    import cv2

    cv2.imwrite(str(path), drawing())
    with pytest.raises(BackendError, match=r"the torchserve pose model returned a keypoint score of 50, outside"):
        annotate(path, backend(server, pose_model="pose_wild"))


def test_annotate_with_the_torchserve_backend(server: LocalTorchServe, tmp_path: Path) -> None:
    import cv2

    from studio.core.annotate import annotate, write_annotation
    from studio.pipeline.character import read_character

    image = np.full((300, 240, 3), 255, np.uint8)
    cv2.circle(image, (120, 70), 30, (20, 20, 20), 4)
    cv2.rectangle(image, (90, 100), (150, 220), (20, 20, 20), 4)
    cv2.line(image, (100, 220), (90, 290), (20, 20, 20), 6)
    cv2.line(image, (140, 220), (150, 290), (20, 20, 20), 6)
    path = tmp_path / "figure.png"
    cv2.imwrite(str(path), image)
    result = annotate(path, backend(server))
    left, top, right, bottom = result.box
    assert left <= 90 and top <= 40 and right >= 150 and bottom >= 290  # the detector's ink box
    folder = write_annotation(result, tmp_path / "char")
    assert len(read_character(folder).names) == 16
