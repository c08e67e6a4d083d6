"""Keyframes of the bundled motion clips; run it to regenerate every BVH and config in motions/."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

try:  # a developer's tool: scipy comes with the test extra, not with the studio
    from scipy.spatial.transform import Rotation
except ImportError:
    sys.exit("motions/author.py needs scipy: pip install 'drawing-studio[test]' (or scripts/setup.sh)")

from studio.pipeline.motion.bvh import Bvh
from studio.pipeline.motion.bvh_writer import write_bvh
from studio.pipeline.motion.config import MotionConfig, RetargetConfig, write_yaml

# The figure: 170 cm tall, Y up, facing +Z, its own left at +X. Rotation channels are "Z X Y" (Rz·Rx·Ry), and
# "X Z Y" on the legs, whose knees and hips flex past 90° about X (a middle X axis would flip there).
FPS = 30
THIGH, SHIN = 43.0, 41.0
HIP_Y = 94.5  # standing pelvis height, knees barely bent
ANKLE_Y = 8.0  # ankle above the sole of a flat foot
SIDES = (("Left", 1.0), ("Right", -1.0))
EULER, LEG_EULER = "ZXY", "XZY"
LEG = ("UpLeg", "Leg", "Foot", "ToeBase")
RETARGET = "biped.retarget.yaml"
SCALE = 0.01  # cm → about AD's size for a 170 cm figure

Pose = dict[str, np.ndarray]  # FK joint → (3, 3) local rotation; "root" → (3,) cm; "ik<Side>" → (5,) foot


def skeleton() -> list[tuple[str, str | None, tuple[float, float, float]]]:
    """(name, parent, offset cm) in depth-first file order; End Sites are named ``<parent>_end``."""
    bones: list[tuple[str, str | None, tuple[float, float, float]]] = [
        ("Hips", None, (0, 0, 0)), ("Spine", "Hips", (0, 8, 0)), ("Spine1", "Spine", (0, 12, 0)),
        ("Spine2", "Spine1", (0, 12, 0)), ("Neck", "Spine2", (0, 16, 0)), ("Head", "Neck", (0, 9, 0)),
        ("Head_end", "Head", (0, 18, 0))]
    for side, s in SIDES:
        bones += [(f"{side}Shoulder", "Spine2", (3 * s, 12, 0)), (f"{side}Arm", f"{side}Shoulder", (15 * s, 0, 0)),
                  (f"{side}ForeArm", f"{side}Arm", (28 * s, 0, 0)), (f"{side}Hand", f"{side}ForeArm", (25 * s, 0, 0)),
                  (f"{side}Hand_end", f"{side}Hand", (18 * s, 0, 0))]
    for side, s in SIDES:
        bones += [(f"{side}UpLeg", "Hips", (9 * s, -3, 0)), (f"{side}Leg", f"{side}UpLeg", (0, -THIGH, 0)),
                  (f"{side}Foot", f"{side}Leg", (0, -SHIN, 0)), (f"{side}ToeBase", f"{side}Foot", (0, -6, 12)),
                  (f"{side}ToeBase_end", f"{side}ToeBase", (0, -2, 6))]
    return bones


def rot(z: float = 0.0, x: float = 0.0, y: float = 0.0) -> np.ndarray:
    """(3, 3) rotation Rz·Rx·Ry, degrees: the channel order of every joint."""
    return Rotation.from_euler(EULER, [z, x, y], degrees=True).as_matrix()


def _arm(side: str, s: float, lift: float = -75.0, elbow: float = 12.0, swing: float = 12.0, fore: float = 15.0,
         wrist: float = 0.0, shrug: float = 0.0) -> Pose:
    """One arm, mirrored by ``s``. lift: upper arm above the horizontal in the frontal plane (-90 hangs, 90 up);
    elbow: forearm curled down/inward from the upper arm (negative: up/outward, as in a wave); swing, fore:
    upper arm and forearm forward (out of the frontal plane); wrist: like elbow, for the hand; shrug: shoulder up."""
    return {f"{side}Shoulder": rot(s * shrug), f"{side}Arm": rot(s * lift, 0, -s * swing),
            f"{side}ForeArm": rot(-s * elbow, 0, -s * fore), f"{side}Hand": rot(-s * wrist)}


def foot(x: float = 11.0, y: float = ANKLE_Y, z: float = 2.0, pitch: float = 0.0, turn: float = 12.0) -> np.ndarray:
    """(5,) foot control: ankle target (x outward from the midline on the foot's own side, y up, z forward),
    toe pitch down in degrees and knee/foot turn-out in degrees (it makes a knee bend show in the frontal view)."""
    return np.array([x, y, z, pitch, turn], float)


def on_toes(pitch: Any) -> Any:
    """Ankle height that keeps the ball of a foot pitched by ``pitch`` degrees (float or array) on the ground."""
    return 2.0 + 6.0 * np.cos(np.radians(pitch)) + 12.0 * np.sin(np.radians(pitch))


def pose(root: tuple[float, float, float] = (0.0, HIP_Y, 0.0), hips: tuple[float, float, float] = (0.0, 0.0, 0.0),
         lean: float = 0.0, head: float = 0.0, nod: float = 0.0, la: tuple[float, ...] = (),
         ra: tuple[float, ...] = (), lf: tuple[float, ...] = (), rf: tuple[float, ...] = ()) -> Pose:
    """A full key. lean/head: side bend of spine/head towards the figure's left, degrees; nod: head down;
    la/ra: ``_arm`` arguments (lift, elbow, swing, fore, wrist, shrug); lf/rf: ``foot`` arguments."""
    p: Pose = {"root": np.array(root, float), "Hips": rot(*hips)}
    for name in ("Spine", "Spine1", "Spine2"):
        p[name] = rot(-lean / 3)
    p["Neck"] = p["Head"] = rot(-head / 2, nod / 2)
    p |= _arm("Left", 1.0, *la) | _arm("Right", -1.0, *ra)
    p["ikLeft"], p["ikRight"] = foot(*lf), foot(*rf)
    return p


_MIRROR = np.diag([-1.0, 1.0, 1.0])


def mirror(p: Pose) -> Pose:
    """The same key with left and right swapped (foot x is already measured outward on each side)."""
    out: Pose = {}
    for key, value in p.items():
        swapped = key.replace("Left", "#").replace("Right", "Left").replace("#", "Right")
        if value.shape == (3, 3):
            out[swapped] = _MIRROR @ value @ _MIRROR
        else:
            out[swapped] = value * np.array([-1.0, 1.0, 1.0]) if key == "root" else value.copy()
    return out


def between(a: Pose, b: Pose, lift: str = "", height: float = 20.0, bounce: float = 0.0) -> Pose:
    """A key halfway from ``a`` to ``b``, optionally lifting the ``lift`` side's foot and raising the root."""
    out: Pose = {}
    for key, value in a.items():
        if value.shape == (3, 3):
            out[key] = Rotation.from_matrix(np.stack([value, b[key]])).mean().as_matrix()
        else:
            out[key] = (value + b[key]) / 2
    out["root"] = out["root"] + np.array([0.0, bounce, 0.0])
    if lift:
        out[f"ik{lift}"] = out[f"ik{lift}"] + np.array([0.0, height - ANKLE_Y, 4.0, 20.0, 0.0])
    return out


@dataclass(frozen=True)
class Clip:
    """Keys at times in [0, period); the loop closes on the first key again at ``period``."""

    name: str
    period: float
    keys: tuple[tuple[float, Pose], ...]


def _hermite(times: np.ndarray, values: np.ndarray, period: float, sign: float, t: np.ndarray) -> np.ndarray:
    """Periodic Catmull-Rom through (n,) times and (n, d) values, tangents limited (Fritsch–Carlson) so that
    no component overshoots its keys; ``sign`` multiplies the wrapped keys (the quaternion double cover)."""
    n = len(times)
    v = np.concatenate([sign * values[-1:], values, sign * values[:1], sign * values[1:2]])
    k = np.concatenate([[times[-1] - period], times, [period, period + times[1]]])
    secant = np.diff(v, axis=0) / np.diff(k)[:, None]
    m = (v[2:] - v[:-2]) / (k[2:] - k[:-2])[:, None]
    lo, hi = secant[:-1], secant[1:]
    m = np.where(lo * hi <= 0, 0.0, np.sign(m) * np.minimum(np.abs(m), 3 * np.minimum(np.abs(lo), np.abs(hi))))
    kk, vv = k[1:-1], v[1:-1]
    i = np.clip(np.searchsorted(kk, t, side="right") - 1, 0, n - 1)
    h = (kk[i + 1] - kk[i])[:, None]
    u = (t - kk[i])[:, None] / h
    return ((2 * u**3 - 3 * u**2 + 1) * vv[i] + (u**3 - 2 * u**2 + u) * h * m[i]
            + (3 * u**2 - 2 * u**3) * vv[i + 1] + (u**3 - u**2) * h * m[i + 1])


def _rotation_spline(times: np.ndarray, mats: list[np.ndarray], period: float, t: np.ndarray) -> np.ndarray:
    """(F, 3, 3): the keys as quaternions on one hemisphere, splined component-wise and renormalised."""
    q = Rotation.from_matrix(np.stack(mats)).as_quat()
    for j in range(1, len(q)):
        if q[j] @ q[j - 1] < 0:
            q[j] = -q[j]
    sign = 1.0 if q[-1] @ q[0] >= 0 else -1.0
    out = _hermite(times, q, period, sign, t)
    return Rotation.from_quat(out / np.linalg.norm(out, axis=1, keepdims=True)).as_matrix()


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("fi,fi->f", a, b)[:, None]


def leg_ik(root: np.ndarray, hips: np.ndarray, s: float, ctrl: np.ndarray) -> tuple[np.ndarray, ...]:
    """Two-bone IK per frame: local (F, 3, 3) rotations of UpLeg, Leg, Foot and ToeBase that put the ankle on the
    control's target, the knee towards forward turned out by ``turn``, the foot flat or pitched, the toes level."""
    hip = root + hips @ np.array([9.0 * s, -3.0, 0.0])
    target = ctrl[:, :3] * np.array([s, 1.0, 1.0])
    target[:, 1] = np.maximum(target[:, 1], on_toes(ctrl[:, 3]))  # the ball of the foot never sinks
    turn = np.radians(ctrl[:, 4])
    v = target - hip
    u = _unit(v)
    dist = np.clip(np.linalg.norm(v, axis=1), THIGH - SHIN + 1.0, (THIGH + SHIN) * (1 - 1e-9))[:, None]
    pole = np.stack([s * np.sin(turn), np.zeros_like(turn), np.cos(turn)], axis=1)
    pole = _unit(pole - _dot(pole, u) * u)
    cos_hip = (THIGH**2 + dist**2 - SHIN**2) / (2 * THIGH * dist)
    d1 = cos_hip * u + np.sqrt(1 - cos_hip**2) * pole
    d2 = _unit(dist * u - THIGH * d1)
    z1 = _unit(pole - _dot(pole, d1) * d1)
    upleg = np.stack([np.cross(-d1, z1), -d1, z1], axis=2)  # columns: hinge axis, bone (−Y), knee forward
    knee = np.degrees(np.arccos(np.clip(_dot(d1, d2)[:, 0], -1.0, 1.0)))
    leg = Rotation.from_euler("x", knee[:, None], degrees=True).as_matrix()
    want = Rotation.from_euler("YX", np.stack([s * 0.6 * ctrl[:, 4], ctrl[:, 3]], axis=1), degrees=True).as_matrix()
    toe = Rotation.from_euler("x", -ctrl[:, 3:4], degrees=True).as_matrix()  # toes stay level: on tiptoe, not in
    return hips.transpose(0, 2, 1) @ upleg, leg, (upleg @ leg).transpose(0, 2, 1) @ want, toe


def build(clip: Clip) -> Bvh:
    """Sample ``clip`` at 30 fps over one period, first frame repeated as the last, into a BVH."""
    times = np.array([time for time, _ in clip.keys])
    n_frames = int(round(clip.period * FPS)) + 1
    t = np.arange(n_frames) / FPS
    t[-1] = clip.period
    curves: dict[str, np.ndarray] = {}
    for name, first in clip.keys[0][1].items():
        values = [key[name] for _, key in clip.keys]
        curves[name] = (_rotation_spline(times, values, clip.period, t) if first.shape == (3, 3)
                        else _hermite(times, np.stack(values), clip.period, 1.0, t))
    for side, s in SIDES:
        for bone, mats in zip(LEG, leg_ik(curves["root"], curves["Hips"], s, curves[f"ik{side}"])):
            curves[f"{side}{bone}"] = mats
    bones = skeleton()
    names = [b[0] for b in bones]
    columns, channels = [], []
    for name, parent, _ in bones:
        if name.endswith("_end"):
            channels.append(())
            continue
        if parent is None:
            columns.append(curves["root"])
        order = LEG_EULER if name.removeprefix("Left").removeprefix("Right") in LEG else EULER
        mats = curves[name]
        columns.append(np.unwrap(Rotation.from_matrix(mats).as_euler(order, degrees=True), period=360.0, axis=0))
        rotation = tuple(f"{axis}rotation" for axis in order)
        channels.append(("Xposition", "Yposition", "Zposition") + rotation if parent is None else rotation)
    motion = np.round(np.concatenate(columns, axis=1), 6) + 0.0
    return Bvh(tuple(names), tuple(-1 if p is None else names.index(p) for _, p, _ in bones),
               np.array([b[2] for b in bones], float), tuple(channels), motion, 1.0 / FPS,
               frozenset(i for i, n in enumerate(names) if n.endswith("_end")))


def _alternate(period: float, step: float, cycle: tuple[Pose, ...]) -> tuple[tuple[float, Pose], ...]:
    n = int(round(period / step))
    return tuple((i * period / n, cycle[i % len(cycle)]) for i in range(n))


def idle() -> Clip:
    """Breathing and a slow weight shift from foot to foot."""
    still = pose(la=(-76, 14), ra=(-76, 14), lf=(11, ANKLE_Y, 2, 0, 20), rf=(11, ANKLE_Y, 2, 0, 20))
    shift = pose(root=(2.2, HIP_Y - 0.8, 0), lean=-2.5, head=5, la=(-71, 20, 14, 18, 0, 2), ra=(-80, 8),
                 lf=(11, ANKLE_Y, 2, 0, 20), rf=(11, ANKLE_Y, 2, 0, 20))
    breathe = pose(root=(0, HIP_Y + 0.2, 0), nod=-4, la=(-74, 12, 12, 15, 0, 4), ra=(-74, 12, 12, 15, 0, 4),
                   lf=(11, ANKLE_Y, 2, 0, 20), rf=(11, ANKLE_Y, 2, 0, 20))
    return Clip("idle", 3.6, tuple((0.9 * i, key) for i, key in enumerate((still, shift, breathe, mirror(shift)))))


def walk() -> Clip:
    """Marching in place: knees up and out, the opposite arm swinging forward and out."""
    down = pose(root=(0, HIP_Y - 1.5, 0), la=(-76, 16, 14), ra=(-76, 16, 14),
                lf=(11, ANKLE_Y, 2, 0, 25), rf=(11, ANKLE_Y, 2, 0, 25))
    up = pose(root=(-2.5, HIP_Y + 0.3, 0), lean=-2, head=-2, la=(-80, 10, 4, 10), ra=(-62, 28, 28, 22),
              lf=(15, 30, 14, 25, 40), rf=(11, ANKLE_Y, 2, 0, 25))
    return Clip("walk", 2.0, _alternate(2.0, 0.25, (down, up, down, mirror(up))))


def run() -> Clip:
    """Jogging in place: high knees, bent arms pumping, a little flight on every step."""
    down = pose(root=(0, HIP_Y - 2.5, 0), nod=3, la=(-70, 40, 15, 25), ra=(-70, 40, 15, 25),
                lf=(12, ANKLE_Y, 3, 0, 45), rf=(12, ANKLE_Y, 3, 0, 45))
    up = pose(root=(-2, HIP_Y + 1, 0), lean=-3, nod=3, la=(-76, 35, 5, 20), ra=(-55, 58, 35, 35),
              lf=(17, 40, 15, 30, 45), rf=(11, on_toes(30), 2, 30, 25))
    return Clip("run", 2.0, _alternate(2.0, 1 / 6, (down, up, down, mirror(up))))


def wave() -> Clip:
    """A friendly wave with the right hand, forearm rocking over the raised elbow."""
    def waving(root: tuple[float, float, float], ra: tuple[float, ...]) -> Pose:
        stance = (11, ANKLE_Y, 2, 0, 15)
        return pose(root=root, lean=3.0, head=5.0, la=(-78, 12), ra=ra, lf=stance, rf=stance)

    out = waving((0.8, HIP_Y, 0), (30, -28, 15, 0, 12))
    inward = waving((0.4, HIP_Y - 0.6, 0), (32, -72, 15, 0, -12))
    return Clip("wave", 2.0, _alternate(2.0, 0.25, (out, inward)))


def jump() -> Clip:
    """Crouch, spring up into a star with arms and legs spread, land softly and stand up."""
    ground = (13, ANKLE_Y, 3, 0, 20)
    stand = pose(la=(-74, 12), ra=(-74, 12), lf=ground, rf=ground)
    crouch = pose(root=(0, 80, 0), nod=8, la=(-52, 20, 6, 20), ra=(-52, 20, 6, 20),
                  lf=(13, ANKLE_Y, 3, 0, 70), rf=(13, ANKLE_Y, 3, 0, 70))
    push = pose(root=(0, 99, 0), la=(30, 10, 15, 10), ra=(30, 10, 15, 10),
                lf=(12, on_toes(35), 3, 35, 15), rf=(12, on_toes(35), 3, 35, 15))
    star = pose(root=(0, 122, 0), nod=-5, la=(40, 0, 10, 0, 0, 10), ra=(40, 0, 10, 0, 0, 10),
                lf=(27, 38, 4, 40, 20), rf=(27, 38, 4, 40, 20))
    fall = pose(root=(0, 104, 0), la=(15, 10), ra=(15, 10), lf=(15, 19, 3, 30, 20), rf=(15, 19, 3, 30, 20))
    land = pose(root=(0, 91, 0), la=(-20, 15), ra=(-20, 15), lf=(13, ANKLE_Y, 3, 0, 60), rf=(13, ANKLE_Y, 3, 0, 60))
    absorb = pose(root=(0, 81, 0), nod=6, la=(-45, 25, 15, 20), ra=(-45, 25, 15, 20),
                  lf=(13, ANKLE_Y, 3, 0, 70), rf=(13, ANKLE_Y, 3, 0, 70))
    return Clip("jump", 2.2, ((0.0, stand), (0.45, crouch), (0.65, push), (0.85, star), (1.05, fall),
                              (1.17, land), (1.4, absorb), (1.85, stand)))


def cheer() -> Clip:
    """Hooray: fists by the ears, then punched up into a V while bouncing onto the toes."""
    low = pose(root=(0, HIP_Y - 4.5, 0), la=(15, -68, 20, 10, 0, 4), ra=(15, -68, 20, 10, 0, 4),
               lf=(12, ANKLE_Y, 3, 0, 60), rf=(12, ANKLE_Y, 3, 0, 60))
    high = pose(root=(0.6, HIP_Y + 3, 0), lean=4, nod=-8, la=(50, -4, 12, 0, -8, 8), ra=(46, -6, 12, 0, -8, 8),
                lf=(12, on_toes(25), 3, 25, 20), rf=(12, on_toes(25), 3, 25, 20))
    return Clip("cheer", 2.0, _alternate(2.0, 0.25, (low, high, low, mirror(high))))


def dance() -> Clip:
    """Step-touch to the right and back, then to the left: bouncing knees, disco points, arms up in a V."""
    bent = HIP_Y - 3.5
    hips_on_hands = (-50, 80, 10, 10)
    start = pose(root=(0, bent, 0), la=hips_on_hands, ra=hips_on_hands,
                 lf=(10, ANKLE_Y, 3, 0, 60), rf=(10, ANKLE_Y, 3, 0, 60))
    step_right = pose(root=(-10, bent - 1, 0), lean=3, head=-6, la=(-45, 0, 15), ra=(50, 0, 15, 0, 0, 8),
                      lf=(10, ANKLE_Y, 3, 0, 60), rf=(30, ANKLE_Y, 3, 0, 60))
    hooray = pose(root=(-20, bent, 0), nod=-6, la=(45, -6, 10, 0, -8, 5), ra=(45, -6, 10, 0, -8, 5),
                lf=(-10, ANKLE_Y, 3, 0, 60), rf=(30, ANKLE_Y, 3, 0, 60))
    step_left = pose(root=(-10, bent - 1, 0), lean=-3, head=6, la=(50, 0, 15, 0, 0, 8), ra=(-45, 0, 15),
                     lf=(10, ANKLE_Y, 3, 0, 60), rf=(30, ANKLE_Y, 3, 0, 60))
    beats = (start, step_right, hooray, step_left)
    lifts = ("Right", "Left", "Left", "Right")
    half: list[Pose] = []
    for b, (key, side) in enumerate(zip(beats, lifts)):
        half += [key, between(key, beats[(b + 1) % 4], side, bounce=3.5)]
    keys = half + [mirror(k) for k in half]
    return Clip("dance", 3.6, tuple((3.6 * i / len(keys), k) for i, k in enumerate(keys)))


def jacks() -> Clip:
    """Jumping jacks: hop the feet apart as the arms sweep up into a high V (clear of a big drawn head), and back."""
    closed = pose(root=(0, HIP_Y - 1, 0), la=(-78, 8), ra=(-78, 8), lf=(10, ANKLE_Y, 3, 0, 15), rf=(10, ANKLE_Y, 3, 0, 15))
    air = pose(root=(0, 104, 0), la=(10, 5, 8), ra=(10, 5, 8), lf=(19, 22, 3, 30, 20), rf=(19, 22, 3, 30, 20))
    opened = pose(root=(0, 90, 0), la=(58, -4, 8, 0, 0, 6), ra=(58, -4, 8, 0, 0, 6),
                  lf=(30, ANKLE_Y, 3, 0, 25), rf=(30, ANKLE_Y, 3, 0, 25))
    return Clip("jacks", 2.0, _alternate(2.0, 0.25, (closed, air, opened, air)))


CLIPS = (idle, walk, run, wave, jump, cheer, dance, jacks)


def retarget_config() -> RetargetConfig:
    """One retarget config for every clip, in AD's schema, every group projected on the frontal plane."""
    limbs = {part: [f"{side}{b}" for side, _ in SIDES for b in bones] for part, bones in
             (("Upper Limbs", ("Shoulder", "Arm", "ForeArm", "Hand")), ("Lower Limbs", ("UpLeg", "Leg", "Foot", "ToeBase")))}
    mapping: dict[str, list[str]] = {"torso": ["Hips", "Spine2"], "neck": ["Hips", "Neck"]}
    for side, _ in SIDES:
        c = side.lower()
        mapping |= {f"{c}_elbow": [f"{side}Arm", f"{side}ForeArm"], f"{c}_hand": [f"{side}ForeArm", f"{side}Hand"],
                    f"{c}_knee": [f"{side}UpLeg", f"{side}Leg"], f"{c}_foot": [f"{side}Leg", f"{side}Foot"]}
    data = {
        "char_starting_location": [0.0, 0.0, -0.5],
        "bvh_projection_bodypart_groups": [
            {"bvh_joint_names": limbs["Upper Limbs"], "method": "frontal", "name": "Upper Limbs"},
            {"bvh_joint_names": limbs["Lower Limbs"], "method": "frontal", "name": "Lower Limbs"},
            {"bvh_joint_names": ["Hips", "Spine", "Spine1", "Spine2", "Neck", "Head"], "method": "frontal",
             "name": "Trunk"}],
        "char_bodypart_groups": [
            {"bvh_depth_drivers": ["Hips"], "char_joints": ["right_shoulder", "left_shoulder", "right_hip", "left_hip",
                                                            "hip", "torso", "neck"]},
            *({"bvh_depth_drivers": [f"{side}{end}"], "char_joints": [f"{side.lower()}_{a}", f"{side.lower()}_{b}"]}
              for end, a, b in (("Hand", "elbow", "hand"), ("Foot", "knee", "foot")) for side in ("Left", "Right"))],
        "char_bvh_root_offset": {
            "bvh_projection_bodypart_group_for_offset": "Lower Limbs",
            "bvh_joints": [[f"{side}Foot", f"{side}Leg", f"{side}UpLeg"] for side in ("Right", "Left")],
            "char_joints": [[f"{side}_foot", f"{side}_knee", f"{side}_hip"] for side in ("right", "left")]},
        "char_joint_bvh_joints_mapping": mapping,
        "char_runtime_checks": [["above", "neck", "right_shoulder", "left_shoulder"]],
    }
    return RetargetConfig.from_dict(data, RETARGET)


def motion_config(name: str) -> MotionConfig:
    return MotionConfig(filepath=f"{name}.bvh", groundplane_joint="LeftFoot",
                        forward_perp_joint_vectors=(("LeftShoulder", "RightShoulder"), ("LeftUpLeg", "RightUpLeg")),
                        scale=SCALE, up="+y")


def generate(out_dir: Path) -> list[Path]:
    """Write every clip's BVH and motion config, and the shared retarget config, into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [write_yaml(retarget_config().to_dict(), out_dir / RETARGET)]
    for make in CLIPS:
        clip = make()
        written.append(write_bvh(build(clip), out_dir / f"{clip.name}.bvh"))
        written.append(write_yaml(motion_config(clip.name).to_dict(), out_dir / f"{clip.name}.motion.yaml"))
    return written


if __name__ == "__main__":
    for path in generate(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent):
        print(path)
