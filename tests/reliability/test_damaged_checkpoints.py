"""A damaged newest checkpoint (truncated, flipped bytes, unloadable, without its checksum):
``--resume auto`` reports it (file, reason), sets it aside and continues from the previous
one, bit for bit; with no good checkpoint left it stops with an error and deletes nothing."""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from conftest import TINY

from inception_v4 import load_model
from inception_v4.checkpoint import files, find_resume
from inception_v4.cli import main
from inception_v4.train import TrainConfig, fit


def _config(data: Path, out: Path, max_steps: int) -> TrainConfig:
    return TrainConfig(data=str(data), out=str(out), max_steps=max_steps, **TINY)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, tiny_data: Path) -> dict[str, Path]:
    """A run stopped after step 2 (step files 1 and 2 kept) and its uninterrupted twin
    that reached step 3 (the reference a resume from step 1 must reproduce)."""
    root = tmp_path_factory.mktemp("damage")
    stopped, threads = root / "stopped", torch.get_num_threads()
    torch.set_num_threads(1)  # as the tests run (module fixtures come before _one_thread)
    try:
        fit(_config(tiny_data, stopped, 2))
        fit(_config(tiny_data, root / "whole", 3))
    finally:
        torch.set_num_threads(threads)
    return {"stopped": stopped, "whole": root / "whole"}


def _flip(path: Path, offset: int, count: int = 64) -> None:
    """XOR ``count`` bytes at ``offset`` with 0xFF, in place (the same inode: last.pt is a
    hard link to the step file, so it is damaged too)."""
    with open(path, "r+b") as f:
        f.seek(offset)
        data = f.read(count)
        f.seek(offset)
        f.write(bytes(b ^ 0xFF for b in data))


def _overwrite(path: Path, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.truncate(0)
        f.write(data)


def _resave(path: Path, change: Callable[[dict], None]) -> None:
    state = torch.load(path, weights_only=True)
    change(state)
    buffer = path.with_suffix(".tmp")
    torch.save(state, buffer)
    _overwrite(path, buffer.read_bytes())
    buffer.unlink()


def _edit_tensor(state: dict) -> None:
    name = next(k for k, v in state["model"].items() if v.is_floating_point())
    state["model"][name] = state["model"][name] + 1e-3


# name → what it does to the newest checkpoint (step-00000002.pt, alias last.pt)
DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated to half its size": lambda p: os.truncate(p, p.stat().st_size // 2),
    "last 100 bytes cut (zip directory gone)": lambda p: os.truncate(p, p.stat().st_size - 100),
    "64 bytes flipped in the middle (tensor data)": lambda p: _flip(p, p.stat().st_size // 2),
    "64 bytes flipped in the pickled structure": lambda p: _flip(p, 1000),
    "zero-length file": lambda p: os.truncate(p, 0),
    "garbage of the same size": lambda p: _overwrite(
        p, random.Random(0).randbytes(p.stat().st_size)),
    "checksum removed (re-saved without it)": lambda p: _resave(
        p, lambda s: s.pop("integrity")),
    "a tensor edited, re-saved with the old checksum": lambda p: _resave(p, _edit_tensor),
}


def _damaged_copy(runs: dict[str, Path], root: Path, damage: Callable[[Path], None],
                  whole_run: bool = True) -> Path:
    """A copy of the stopped run (only its step files unless ``whole_run``) with ``damage``
    done to the newest one."""
    out = root / "run"
    if whole_run:
        shutil.copytree(runs["stopped"], out)
    else:
        (out / "checkpoints").mkdir(parents=True)
        for step in (1, 2):
            name = f"step-{step:08d}.pt"
            shutil.copy(runs["stopped"] / "checkpoints" / name, out / "checkpoints" / name)
    ckpt = out / "checkpoints"
    files.link_atomic(ckpt / "step-00000002.pt", ckpt / "last.pt")  # copytree broke the link
    damage(ckpt / "step-00000002.pt")
    return out


def _same_weights(a: Path, b: Path) -> None:
    sa = torch.load(a / "checkpoints" / "last.pt", weights_only=True)
    sb = torch.load(b / "checkpoints" / "last.pt", weights_only=True)
    for part in ("model", "optimizer"):
        flat_a, flat_b = _flatten(sa[part]), _flatten(sb[part])
        assert flat_a.keys() == flat_b.keys()
        assert all(torch.equal(flat_a[k], flat_b[k]) for k in flat_a), part


def _flatten(obj: object, prefix: str = "") -> dict[str, torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return {prefix: obj}
    if isinstance(obj, dict):
        return {k: v for key, value in obj.items() for k, v in
                _flatten(value, f"{prefix}.{key}").items()}
    return {}


def test_every_kind_of_damage_is_found_and_the_previous_one_chosen(
        runs: dict[str, Path], tmp_path: Path, reliability) -> None:  # noqa: ANN001
    for i, (kind, damage) in enumerate(DAMAGE.items()):
        out = _damaged_copy(runs, tmp_path / str(i), damage, whole_run=False)
        resume = find_resume("auto", out)
        assert resume.path.name == "step-00000001.pt", kind
        assert [(p.name, bool(why)) for p, why in resume.damaged] == \
            [("step-00000002.pt", True)], kind
        reliability("checkpoint damage", f"newest checkpoint: {kind}", 1,
                    "detected (file and reason); the previous checkpoint chosen")


RESUMED = ("reported (file and reason), set aside as .damaged; resumed from the previous one; "
           "final weights bit-identical to an uninterrupted run")


def _resume_damaged(runs: dict[str, Path], tiny_data: Path, tmp_path: Path, kind: str,
                    capsys: pytest.CaptureFixture) -> None:
    out = _damaged_copy(runs, tmp_path, DAMAGE[kind])
    newest = out / "checkpoints" / "step-00000002.pt"
    args = ["train", "--model", TINY["model"], "--data", str(tiny_data), "--out", str(out),
            "--width", "0.25", "--depth", "0.2", "--image-size", "75", "--batch-size", "8",
            "--device", "cpu", "--workers", "0", "--max-steps", "3", "--epochs", "4",
            "--checkpoint-every", "1", "--keep-checkpoints", "3", "--log-every", "1",
            "--set", "reference_batch=8",
            "--set", "lr=0.02", "--set", "drop_rate=0.5", "--set", "ema_decay=0.9"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert f"damaged checkpoint {newest}:" in text, text
    assert "resuming from" in text and "step-00000001.pt at step 1" in text
    names = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert names == ["best.pt", "last.pt", "step-00000001.pt", "step-00000002.pt",
                     "step-00000002.pt.damaged", "step-00000003.pt"]  # the damaged set aside
    last = out / "checkpoints" / "last.pt"
    assert last.stat().st_ino == (out / "checkpoints" / "step-00000003.pt").stat().st_ino
    _same_weights(runs["whole"], out)  # steps 2 and 3 redone, bit for bit


def test_flipped_bytes_in_the_newest_checkpoint_resume_from_the_previous_one(
        runs: dict[str, Path], tiny_data: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture, reliability) -> None:  # noqa: ANN001
    kind = "64 bytes flipped in the middle (tensor data)"
    _resume_damaged(runs, tiny_data, tmp_path, kind, capsys)
    reliability("checkpoint damage", f"newest checkpoint: {kind}, training resumed", 1,
                RESUMED)


@pytest.mark.slow
@pytest.mark.parametrize("kind", [k for k in DAMAGE if "middle" not in k])
def test_each_damage_kind_resumes_from_the_previous_one(
        runs: dict[str, Path], tiny_data: Path, tmp_path: Path, kind: str,
        capsys: pytest.CaptureFixture, reliability) -> None:  # noqa: ANN001
    _resume_damaged(runs, tiny_data, tmp_path, kind, capsys)
    reliability("checkpoint damage", f"newest checkpoint: {kind}, training resumed", 1,
                RESUMED)


def test_no_good_checkpoint_is_an_error_and_nothing_is_deleted(
        runs: dict[str, Path], tiny_data: Path, tmp_path: Path, reliability) -> None:  # noqa: ANN001
    out = _damaged_copy(runs, tmp_path, DAMAGE["truncated to half its size"])
    older = out / "checkpoints" / "step-00000001.pt"
    _flip(older, older.stat().st_size // 2)
    before = sorted(p.name for p in (out / "checkpoints").iterdir())
    with pytest.raises(ValueError) as err:
        fit(_config(tiny_data, out, 3))
    msg = str(err.value)
    assert "no usable checkpoint" in msg and "--resume never" in msg
    assert "step-00000002.pt: not a readable checkpoint" in msg
    assert "step-00000001.pt: checksum mismatch in " in msg
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == before
    reliability("checkpoint damage", "every checkpoint damaged", 1,
                "ValueError listing each file and reason; nothing deleted or moved")


def test_weights_readers_refuse_damaged_tensors(runs: dict[str, Path], tmp_path: Path,
                                                reliability) -> None:  # noqa: ANN001
    out = _damaged_copy(runs, tmp_path, DAMAGE["a tensor edited, re-saved with the old checksum"])
    with pytest.raises(ValueError, match="is damaged: its 'model' tensors no longer match"):
        load_model(out)
    # an entry removed on purpose (the optimiser state, to save space) is no damage
    ckpt = out / "checkpoints" / "step-00000001.pt"
    state = torch.load(ckpt, weights_only=True)
    state.pop("optimizer")
    torch.save(state, tmp_path / "slim.pt")
    assert load_model(tmp_path / "slim.pt").num_classes == 3
    reliability("checkpoint damage", "changed model tensors read by load_model / evaluate", 1,
                "ValueError naming the file and the damaged entry; an entry dropped on "
                "purpose still loads")


def test_keep_checkpoints_keeps_the_newest_k(runs: dict[str, Path], tmp_path: Path) -> None:
    directory = tmp_path / "checkpoints"
    shutil.copytree(runs["stopped"] / "checkpoints", directory)
    for step in (3, 4, 5):
        files.link_atomic(directory / "step-00000002.pt", files.step_path(directory, step))
    files.step_path(directory, 9).write_bytes(b"")  # a later attempt's: not ours to delete
    assert [p.name for p in files.prune(directory, 2, 5)] == ["step-00000003.pt",
                                                              "step-00000002.pt",
                                                              "step-00000001.pt"]
    assert [s for s, _ in files.step_files(directory)] == [9, 5, 4]


@pytest.mark.slow
def test_random_flips_are_detected_or_harmless(runs: dict[str, Path], tmp_path: Path,
                                               reliability) -> None:  # noqa: ANN001
    """64 bytes flipped at 40 random offsets of the newest checkpoint: each time either
    the file is found damaged and the previous one chosen, or what loads is exactly what was
    written (the flip hit bytes nothing reads: zip padding, unused header fields)."""
    source = runs["stopped"] / "checkpoints" / "step-00000002.pt"
    original = torch.load(source, weights_only=True)
    rng, detected, harmless = random.Random(7), 0, 0
    for i in range(40):
        folder = tmp_path / f"flip{i}"
        folder.mkdir()
        shutil.copy2(runs["stopped"] / "checkpoints" / "step-00000001.pt", folder)
        target = folder / "step-00000002.pt"
        shutil.copy2(source, target)
        _flip(target, rng.randrange(0, source.stat().st_size - 64))
        path, state, damaged = files.newest_good(folder)
        if path.name == "step-00000001.pt":
            assert [p.name for p, _ in damaged] == ["step-00000002.pt"]
            detected += 1
        else:
            assert _flatten(state).keys() == _flatten(original).keys()
            assert all(torch.equal(a, b) for a, b in
                       zip(_flatten(state).values(), _flatten(original).values(),
                           strict=True))
            harmless += 1
    assert detected + harmless == 40 and detected >= 30
    reliability("checkpoint damage", "64 bytes flipped at a random offset (slow test)",
                detected, "found damaged, the previous checkpoint chosen")
    if harmless:
        reliability("checkpoint damage", "64 bytes flipped at a random offset, in bytes "
                    "nothing reads (slow test)", harmless,
                    "loads exactly what was written (checked tensor by tensor)")


def test_a_checkpoint_without_checksum_needs_to_be_named(runs: dict[str, Path],
                                                         tmp_path: Path, reliability) -> None:  # noqa: ANN001
    """A run folder of an earlier version (only last.pt, no checksum): --resume auto does
    not trust it, --resume PATH loads it and says it is unverified."""
    last = tmp_path / "run" / "checkpoints" / "last.pt"
    last.parent.mkdir(parents=True)
    shutil.copy(runs["stopped"] / "checkpoints" / "step-00000002.pt", last)
    _resave(last, lambda s: s.pop("integrity"))
    with pytest.raises(ValueError, match=r"last.pt: no checksum .*--resume PATH"):
        find_resume("auto", tmp_path / "run")
    resume = find_resume(str(last), tmp_path / "run")
    assert resume.unverified and resume.state["progress"]["step"] == 2
    reliability("checkpoint damage", "only checkpoint has no checksum (an earlier version's)", 1,
                "--resume auto refuses it, saying how to use it; --resume PATH loads it, "
                "marked unverified")
