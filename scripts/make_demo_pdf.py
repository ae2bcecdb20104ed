"""Generate the demo knowledge base's PDF: prompts/knowledge/acme/dusty-3-maintenance.pdf.

The PDF is committed; regenerate it after editing the text below (needs fpdf2, a dev
dependency)::

    .venv/bin/python scripts/make_demo_pdf.py

The output is reproducible: the creation date is fixed, so the same text gives the same bytes
(and the knowledge index does not re-embed an unchanged file).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from fpdf import FPDF

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "prompts/knowledge/acme/dusty-3-maintenance.pdf"
TITLE = "Dusty 3 maintenance guide"

# (heading, paragraphs) per page. The core PDF fonts cover Latin-1 only: plain ASCII here.
PAGES: list[list[tuple[str, list[str]]]] = [
    [
        (
            TITLE,
            [
                "A little care keeps Dusty 3 cleaning at full strength. The Acme Home app "
                "reminds you when a part is due, based on how long the robot has been running.",
            ],
        ),
        (
            "Filter",
            [
                "Tap the filter clean after every job. Every 2 weeks, rinse the washable filter "
                "under cold running water, without soap, and let it dry in the air for 24 hours "
                "before you put it back. Never use a hair dryer. Replace the filter every "
                "2 months.",
            ],
        ),
        (
            "Brushes",
            [
                "Replace the side brush every 3 months and the main roller brush every 6 months. "
                "Once a week, cut away hair wound around the main brush with the tool clipped "
                "to the dustbin.",
            ],
        ),
        (
            "Dusty Dock bag",
            [
                "The bag in the Dusty Dock holds 2.5 litres. Replace it when the light on the "
                "Dock turns orange or the app says the bag is full. Bags cannot be emptied and "
                "reused.",
            ],
        ),
    ],
    [
        (
            "Sensors and wheels",
            [
                "Once a month, wipe the lidar window on top, the cliff sensors underneath and "
                "the charging contacts with a dry, soft cloth, and remove hair from the front "
                "caster wheel.",
            ],
        ),
        (
            "Battery care and storage",
            [
                "The battery of Dusty 3 is a 3,400 mAh lithium-ion pack, part number DB-3400. "
                "If you do not use the robot for more than 3 months, charge it to about 50 "
                "percent, switch it off and store it in a cool, dry place. A replacement battery "
                "can be fitted at home with a Phillips screwdriver in about 5 minutes.",
            ],
        ),
    ],
]


def build(out: Path) -> None:
    pdf = FPDF(format="A4")
    pdf.set_title(TITLE)
    pdf.set_author("Acme Home Robotics")
    pdf.set_creation_date(dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC))
    pdf.set_margins(20, 20, 20)
    for page in PAGES:
        pdf.add_page()
        for heading, paragraphs in page:
            pdf.set_font("Helvetica", "B", 16 if heading == TITLE else 13)
            pdf.multi_cell(0, 9, heading, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", "", 11)
            for paragraph in paragraphs:
                pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(3)
    out.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write (default: {OUT})")
    args = parser.parse_args()
    build(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
