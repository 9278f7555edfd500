"""``"timm:NAME"`` and ``"hf-hub:ORG/NAME"`` sources, fetched with huggingface_hub (optional).

Nothing here is imported unless such a string is passed. Offline (``HF_HUB_OFFLINE=1``, no
network) and without a cached copy, the error says so and how to pass a local file instead.
"""

from __future__ import annotations

from pathlib import Path

from .catalogue import hub_default
from .sources import CONFIG_NAME, WEIGHTS_NAME, read_config_file

HUB_PREFIXES = ("timm:", "hf-hub:")


class HubUnavailableError(FileNotFoundError):
    """The weights could not be fetched from the Hugging Face hub."""


def is_hub_source(source: object) -> bool:
    return isinstance(source, str) and source.startswith(HUB_PREFIXES)


def _repo_id(source: str) -> str:
    kind, _, name = source.partition(":")
    if not name:
        raise ValueError(f"{source!r}: give a name after {kind + ':'!r}")
    if kind == "timm":
        known = hub_default(name) if "." not in name else None  # timm's default tag
        if known is not None and known.hub_id:
            return known.hub_id
        return f"timm/{name}"
    return name


def _unavailable(source: str, err: BaseException) -> HubUnavailableError:
    return HubUnavailableError(
        f"cannot fetch {source!r}: the Hugging Face hub is unreachable or has no such "
        f"weights ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}). "
        f"Without network access, download the file elsewhere and pass its local path, "
        f"e.g. pretrained='path/to/model.safetensors' (timm/Cadene .safetensors/.pth, FaceNet "
        f".h5) or a folder written by save_pretrained.")


def _download(repo_id: str, filename: str) -> Path:
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download(repo_id, filename))


def resolve_hub(source: str) -> Path:
    """A local path (file or our folder) for a hub source string, downloading if needed."""
    repo_id = _repo_id(source)
    try:
        import huggingface_hub  # noqa: F401
    except ImportError as err:
        raise _unavailable(source, err) from None
    try:
        weights = _download(repo_id, WEIGHTS_NAME)
    except Exception as err:  # noqa: BLE001 - any hub/network failure means "unavailable"
        try:
            weights = _download(repo_id, "pytorch_model.bin")
        except Exception:  # noqa: BLE001
            raise _unavailable(source, err) from None
    try:
        config = _download(repo_id, CONFIG_NAME)
    except Exception:  # noqa: BLE001 - a config is optional
        return weights
    if config.parent == weights.parent and read_config_file(config) is not None:
        return weights.parent
    return weights
