"""What ``evaluate`` and ``ensemble`` print for people: the data line and the table of errors
in percent, with the published figures beside them (the files keep fractions)."""

from __future__ import annotations

from typing import Any

from .paper import published_lines


def data_line(result: dict[str, Any]) -> str:
    """What was evaluated: layout, split, images found, in the split, evaluated, skipped."""
    text = f"{result['data']} ({result['layout']}), split {result['split']}: "
    found, total = result["images_found"], result["images_total"]
    text += f"{found} images found" + ("" if found == total else f", {total} in the split")
    text += f", {result['images']} evaluated"
    if result.get("images_skipped"):
        text += f", {result['images_skipped']} skipped (unreadable)"
    if result["images"] + result.get("images_skipped", 0) < total:
        text += " (--limit)"
    return text


def print_table(result: dict[str, Any]) -> None:
    print(f"{result['model']}: {result['crop_definition']}")
    for member in result.get("members", [result]):
        print(f"weights: {member['weights']} ({member['weights_kind']})")
    if "layout" in result:
        print(f"data: {data_line(result)}")
        if result["layout"] == "class folders" and result["split"] == "all":
            print("note: every image of this class-folder tree is scored, the images a "
                  "training run on it trained on included; --split val scores only the 10 % "
                  "that training holds out")
    print(f"{'set':18s} {'images':>8s} {'top-1 err':>10s} {'top-5 err':>10s} "
          f"{'top-1 acc':>10s} {'top-5 acc':>10s}")
    rows = [("all", result)]
    if "subset" in result:
        rows.append((result["subset"]["name"], result["subset"]))
    for label, r in rows:
        if not r.get("images"):
            print(f"{label:18s} {0:>8d}")
            continue
        pct = {k: 100.0 * r[k] for k in ("top1_err", "top5_err", "top1_acc", "top5_acc")}
        print(f"{label:18s} {r['images']:>8d} {pct['top1_err']:>9.2f}% {pct['top5_err']:>9.2f}% "
              f"{pct['top1_acc']:>9.2f}% {pct['top5_acc']:>9.2f}%")
        for line in published_lines(result, label, 27):  # the paper's, the releases'
            print(line)
    published = result.get("published", {})
    if published.get("omitted"):
        print(f"published figures omitted: {published['omitted']}")
    for note in published.get("notes", []):
        print(f"published figures: {note}")
    print(f"{result['seconds']:.1f} s, {result['images_per_s']:.1f} images/s")
