"""The demo's output: the published images, an HTML contact sheet and a PNG grid."""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw


@dataclass(frozen=True)
class SheetEntry:
    sku: str
    title: str
    twin_id: str
    asset_id: str
    png: bytes


def write_contact_sheet(entries: Sequence[SheetEntry], out_dir: Path, columns: int = 6) -> tuple[Path, Path]:
    """Write assets/<sku>__<twin>.png, index.html and contact_sheet.png; return the page and grid."""
    assets = out_dir / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    ordered = sorted(entries, key=lambda e: (e.sku, e.twin_id))
    cells = []
    for entry in ordered:
        name = f"{entry.sku}__{entry.twin_id}.png"
        (assets / name).write_bytes(entry.png)
        cells.append(
            f'<figure><img src="assets/{html.escape(name)}" alt="{html.escape(entry.title)} on {entry.twin_id}">'
            f"<figcaption><b>{html.escape(entry.sku)}</b> {html.escape(entry.title)}<br>{entry.twin_id}"
            f'<br><span class="ai">AI-generated</span> <code>{entry.asset_id[:8]}</code></figcaption></figure>'
        )
    page = out_dir / "index.html"
    page.write_text(
        "<!doctype html><meta charset=utf-8><title>twinwear demo: published assets</title>"
        "<style>body{font-family:sans-serif;margin:2em}main{display:grid;"
        f"grid-template-columns:repeat({columns},1fr);gap:12px}}figure{{margin:0}}img{{width:100%}}"
        ".ai{color:#a33;font-size:.8em}</style>"
        f"<h1>twinwear: {len(ordered)} published assets</h1>"
        "<p>Every image is AI-generated, on consented digital twins.</p>"
        f"<main>{''.join(cells)}</main>"
    )
    grid = out_dir / "contact_sheet.png"
    _grid([Image.open(io.BytesIO(e.png)).convert("RGB") for e in ordered], [e.sku for e in ordered], columns).save(grid)
    return page, grid


def _grid(images: Sequence[Image.Image], labels: Sequence[str], columns: int) -> Image.Image:
    cell_w, cell_h, caption = 192, 256, 18
    rows = max(1, -(-len(images) // columns))
    sheet = Image.new("RGB", (columns * cell_w, rows * (cell_h + caption)), "white")
    draw = ImageDraw.Draw(sheet)
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        x, y = (index % columns) * cell_w, (index // columns) * (cell_h + caption)
        sheet.paste(image.resize((cell_w, cell_h)), (x, y))
        draw.text((x + 4, y + cell_h + 3), label, fill="black")
    return sheet
