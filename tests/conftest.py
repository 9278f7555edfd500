"""Shared fixtures: where ../shared is, and small deterministic settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout; tests that need it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"../shared not found at {SHARED}: real data and weights tests skipped")
    return SHARED


@pytest.fixture(scope="session")
def h5_path(shared_dir: Path) -> Path:
    """FaceNet's Keras weights, ``../shared/weights/facenet_keras.h5`` (skips without)."""
    path = shared_dir / "weights" / "facenet_keras.h5"
    if not path.is_file():
        pytest.skip(f"{path} not found: FaceNet weights tests skipped")
    return path


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
