#!/usr/bin/env python3
"""Writes the 1x1 grey images phiscrub puts in place of a photo file (patterns/blank/).

A scrubbed image stays an image of the same format, so code and tests that open it still
work, but holds no face. Needs Pillow (PyPI); the output is committed, so only maintainers run
this: `pip install pillow && python3 scripts/make_blank_images.py`.
"""
from pathlib import Path

from PIL import Image

OUT = Path(__file__).resolve().parent.parent / "patterns" / "blank"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", (1, 1), (128, 128, 128))
    for name, fmt, opts in [
        ("1x1.jpg", "JPEG", {"quality": 50}),
        ("1x1.png", "PNG", {"optimize": True}),
        ("1x1.gif", "GIF", {}),
        ("1x1.bmp", "BMP", {}),
        ("1x1.tif", "TIFF", {}),
        ("1x1.webp", "WEBP", {"lossless": True}),
    ]:
        path = OUT / name
        img.save(path, fmt, **opts)
        print(f"{path.name}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
