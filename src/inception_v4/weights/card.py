"""The ``README.md`` model card :func:`save_pretrained` writes beside the weights (the
Hugging Face hub layout: ``config.json`` + ``model.safetensors`` + ``README.md``)."""

from __future__ import annotations

from typing import Any

from .catalogue import for_source

PAPER = ("Szegedy, Ioffe, Vanhoucke, Alemi: *Inception-v4, Inception-ResNet and the Impact of "
         "Residual Connections on Learning*, arXiv 1602.07261 (AAAI 2017)")

def licence_note(source: str | None) -> str:
    """The licence line for weights converted from ``source`` (or trained here)."""
    known = for_source(source) if source else None
    if known is not None:
        return known.licence
    if source:
        return (f"the licence of the source `{source}`; check it before redistributing. "
                "Weights trained on your own data with this library are yours.")
    return "weights trained or initialised with this library: yours to license."


def model_card(config: dict[str, Any], params: int) -> str:
    """Markdown: architecture, preprocessing, the source of the weights and their licence."""
    cfg, args = config.get("pretrained_cfg", {}), config.get("init_args", {})
    size = cfg.get("input_size", (3, 299, 299))
    norm = ("per-image standardisation (FaceNet's prewhiten)"
            if cfg.get("normalize") == "per_image"
            else f"scale to [0, 1], then (x - {cfg.get('mean')}) / {cfg.get('std')}")
    source = config.get("converted_from")
    lines = [
        f"# {config['model']}", "",
        f"{config['model']} from {PAPER}, built with the `inception-v4` library "
        f"(version {config.get('library_version', '?')}).", "",
        "## Architecture", "",
        f"- registry name `{config['model']}`, {params:,} parameters, "
        f"{config.get('num_classes')} outputs, {config.get('num_features')} features before "
        "the classifier",
        "- constructor arguments: " + ", ".join(f"`{k}={v}`" for k, v in args.items()), "",
        "## Preprocessing", "",
        f"- input {size[1]}×{size[2]} RGB; central crop of {cfg.get('crop_pct', 1.0):g} of each "
        f"side, {cfg.get('interpolation', 'bilinear')} resize; {norm}",
        "- `inception_v4.data.create_transform(model)` builds exactly this transform", "",
        "## Source of the weights", "",
        f"- {'converted from `' + str(source) + '`' if source else 'saved by inception-v4'}", "",
        "## Licence", "", f"- {licence_note(str(source) if source else None)}", "",
        "## Use", "", "```python", "import inception_v4",
        'model = inception_v4.load_model("THIS_FOLDER")', "```", "",
    ]
    return "\n".join(lines)
