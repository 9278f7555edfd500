"""The small things a new user meets first: --version, file modes, an unknown model named
as such, error text without Python object reprs, predict on a folder."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from inception_v4 import __version__, create_model, save_pretrained
from inception_v4.cli import main

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our folder of a small 3-class network."""
    model = create_model("inception_resnet_v1", num_classes=3, width=0.25, depth=0.2)
    return save_pretrained(model, tmp_path_factory.mktemp("w") / "w")


def test_version(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out == f"inception-v4 {__version__}\n"


def test_saved_weights_get_the_same_mode_as_the_other_files(folder: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in folder.iterdir()}
    assert modes["model.safetensors"] == modes["config.json"] == 0o666 & ~umask, modes


def test_an_unknown_model_is_called_unknown(folder: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", "--model", "inception_v5", "--weights", str(folder), "--data",
                 "embedded"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'inception_v5'; choose one of inception_resnet_v1" in err
    assert "pass inception_v5 weights" not in err


def test_predict_on_a_folder_and_readable_errors(folder: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    """Every image in the folder (and its subfolders) is predicted; a file that is not an
    image is named with what it starts with, not with ``<_io.BytesIO object at 0x...>``."""
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    for i, path in enumerate([images / "a.png", images / "sub" / "b.jpg"]):
        Image.new("RGB", (90, 80), (40 * i, 100, 200)).save(path)
    (images / "notes.txt").write_text("not an image")
    assert main(["predict", str(images), "--weights", str(folder), "--topk", "2"]) == 0
    out = capsys.readouterr().out
    assert f"{images / 'a.png'}\n  1. class" in out and f"{images / 'sub' / 'b.jpg'}\n" in out
    assert "notes.txt" not in out
    fake = tmp_path / "fake.jpg"
    fake.write_bytes(b"hello, not an image")
    assert main(["predict", str(fake), "--weights", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"{fake}: cannot decode image: not an image" in err and "BytesIO" not in err
    (tmp_path / "empty").mkdir()
    assert main(["predict", str(tmp_path / "empty"), "--weights", str(folder)]) == 2
    assert "empty: a folder without images (.jpg" in capsys.readouterr().err


def test_help_and_version_start_without_torch() -> None:
    """``inception-v4 --help`` imports neither PyTorch nor any command module (start-up
    time: docs/CHANGELOG.md); the package's re-exports still resolve on use."""
    code = ("import sys, contextlib, io\n"
            "import inception_v4.cli as cli\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    try:\n"
            "        cli.main(['--help'])\n"
            "    except SystemExit:\n"
            "        pass\n"
            "assert 'evaluate' in out.getvalue() and 'compare' in out.getvalue()\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or m.endswith('.commands')))\n"
            "import inception_v4\n"
            "print(inception_v4.create_model.__module__)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(SRC)}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "inception_v4.factory"]
