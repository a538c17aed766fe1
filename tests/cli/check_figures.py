#!/usr/bin/env python3
"""check_figures.py DIR STEM[=WxH] ... — each figure DIR/STEM.png is a PNG (magic bytes, CRCs,
decodable) of the given size (when given) and DIR/STEM.svg parses as XML with an <svg> root
of the same size. --heatmap STEM: the PNG also holds both the grey of non-significant cells
and saturated colour-scale pixels. Prints PASS/FAIL lines."""
import os
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(__file__))
from png_read import read_png  # noqa: E402


def main():
    args = sys.argv[1:]
    tag = args.pop(0)
    folder = args.pop(0)
    heatmaps = set()
    while "--heatmap" in args:
        i = args.index("--heatmap")
        heatmaps.add(args[i + 1])
        del args[i:i + 2]
    for spec in args:
        stem, _, size = spec.partition("=")
        want = tuple(int(v) for v in size.split("x")) if size else None
        png, svg = os.path.join(folder, stem + ".png"), os.path.join(folder, stem + ".svg")
        try:
            w, h, rows, ch = read_png(png)
            ok = want is None or (w, h) == want
            print(("PASS" if ok else "FAIL") + f" {tag} {stem}.png valid" + ("" if ok else f": {w}x{h}, expected {want}"))
        except Exception as e:  # noqa: BLE001 — any decoding problem is the failure
            print(f"FAIL {tag} {stem}.png valid: {e}")
            continue
        try:
            root = ET.parse(svg).getroot()
            sw = float(root.get("width", "0").rstrip("pt").rstrip("px"))
            sh = float(root.get("height", "0").rstrip("pt").rstrip("px"))
            ok = root.tag.endswith("svg") and (sw, sh) == (float(w), float(h))
            print(("PASS" if ok else "FAIL") + f" {tag} {stem}.svg is XML <svg> {sw:g}x{sh:g}")
        except Exception as e:  # noqa: BLE001
            print(f"FAIL {tag} {stem}.svg is XML: {e}")
        if stem in heatmaps:
            grey = coloured = 0
            for row in rows[::3]:
                for x in range(0, w * ch, 3 * ch):
                    r, g, b = row[x], row[x + 1], row[x + 2]
                    if r == g == b and 218 <= r <= 221:
                        grey += 1
                    elif max(r, g, b) - min(r, g, b) > 80:
                        coloured += 1
            ok = grey > 100 and coloured > 100
            print(("PASS" if ok else "FAIL") + f" {tag} {stem}.png has grey and coloured cells"
                  + ("" if ok else f": {grey} grey, {coloured} coloured samples"))


if __name__ == "__main__":
    main()
