"""The demo's output: the published images, an HTML contact sheet and a PNG grid (a row per look,
a column per twin)."""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw


@dataclass(frozen=True)
class SheetEntry:
    look_id: str
    title: str
    # What the twin shows: the size it wears, its Monk tone, its body type.
    caption: str
    twin_id: str
    asset_id: str
    png: bytes


def write_contact_sheet(entries: Sequence[SheetEntry], out_dir: Path) -> tuple[Path, Path]:
    """Write assets/<look>__<twin>.<ext>, index.html and contact_sheet.png; return the page and grid."""
    assets = out_dir / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    looks = sorted({e.look_id for e in entries})
    twins = sorted({e.twin_id for e in entries})
    by_cell = {(e.look_id, e.twin_id): e for e in entries}
    rows = []
    for look in looks:
        cells = []
        for twin in twins:
            entry = by_cell.get((look, twin))
            if entry is None:
                cells.append("<td></td>")
                continue
            name = f"{look}__{twin}.img"
            (assets / name).write_bytes(entry.png)
            cells.append(
                f'<td><img src="assets/{html.escape(name)}" alt="{html.escape(entry.title)} on {twin}">'
                f"<br><small>{html.escape(entry.caption)}</small></td>"
            )
        title = next(e.title for e in entries if e.look_id == look)
        rows.append(f"<tr><th>{html.escape(look)}<br><small>{html.escape(title)}</small></th>{''.join(cells)}</tr>")
    page = out_dir / "index.html"
    page.write_text(
        "<!doctype html><meta charset=utf-8><title>twinwear demo: published assets</title>"
        "<style>body{font-family:sans-serif;margin:2em}img{width:160px}td,th{vertical-align:top;"
        "text-align:left;padding:4px}</style>"
        f"<h1>twinwear: {len(entries)} published assets, {len(looks)} looks on {len(twins)} twins</h1>"
        "<p>AI-generated images of consented digital twins; the disclosure is in each file's IPTC and "
        "C2PA metadata.</p>"
        f"<table>{''.join(rows)}</table>"
    )
    grid = out_dir / "contact_sheet.png"
    _grid(by_cell, looks, twins).save(grid)
    return page, grid


def _grid(by_cell: dict[tuple[str, str], SheetEntry], looks: Sequence[str], twins: Sequence[str]) -> Image.Image:
    cell_w, cell_h, caption, label_w = 200, 300, 16, 150
    sheet = Image.new("RGB", (label_w + len(twins) * cell_w, len(looks) * (cell_h + caption)), "white")
    draw = ImageDraw.Draw(sheet)
    for row, look in enumerate(looks):
        y = row * (cell_h + caption)
        title = next(e.title for (lk, _), e in by_cell.items() if lk == look)
        draw.text((6, y + cell_h // 2 - 8), look, fill="black")
        draw.text((6, y + cell_h // 2 + 8), title[:24], fill="dimgray")
        for column, twin in enumerate(twins):
            entry = by_cell.get((look, twin))
            if entry is None:
                continue
            x = label_w + column * cell_w
            image = Image.open(io.BytesIO(entry.png)).convert("RGB")
            image.thumbnail((cell_w, cell_h))
            sheet.paste(image, (x + (cell_w - image.width) // 2, y + (cell_h - image.height) // 2))
            draw.text((x + 4, y + cell_h + 1), entry.caption, fill="black")
    return sheet
