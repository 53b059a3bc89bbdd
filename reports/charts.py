"""Charts for the Reports page as inline SVG drawn on the server: no script, a title and a description for screen readers."""

from __future__ import annotations

from html import escape
from typing import Any

from pmsync.exports.snapshots import format_utc

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 28, 40
UNIT_COLOUR, PROPERTY_COLOUR = "#3b6ea8", "#d9822b"
MAX_BAR_WIDTH = 48


def deactivations_chart(points: list[dict[str, Any]], scope: str, pages: str) -> str:
    """Bars per snapshot, oldest left: units deactivated, with the properties deactivated stacked on top; each bar
    links to its snapshot's page under `pages` (the integration's path). `points` are `deactivations_over_time` rows;
    `scope` says whose deactivations they count."""
    title = f"Deactivations per snapshot ({scope})"
    if not points:
        return f'<p id="deactivations-chart">{escape(title)}: no snapshot yet.</p>'
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    highest = max(max(p["deactivated_units"] + p["deactivated_properties"] for p in points), 1)
    slot = plot_width / len(points)
    bar = min(MAX_BAR_WIDTH, slot * 0.7)
    scale = plot_height / highest
    total_units = sum(p["deactivated_units"] for p in points)
    total_properties = sum(p["deactivated_properties"] for p in points)
    description = (
        f"{len(points)} snapshot(s) from {format_utc(points[0]['taken_at'])} to {format_utc(points[-1]['taken_at'])} UTC: "
        f"{total_units} unit(s) and {total_properties} propert(ies) deactivated in all; at most {highest} in one snapshot."
    )
    bars = []
    for index, point in enumerate(points):
        units, props = point["deactivated_units"], point["deactivated_properties"]
        x = LEFT + index * slot + (slot - bar) / 2
        units_height, props_height = units * scale, props * scale
        base = TOP + plot_height
        label = (f"Snapshot {point['id']}, {format_utc(point['taken_at'])} UTC: {units} unit(s) and {props} "
                 f"propert(ies) deactivated")
        bars.append(
            f'<a href="{escape(pages)}/snapshots/{int(point["id"])}" class="bar" data-snapshot="{int(point["id"])}" '
            f'data-units="{int(units)}" data-properties="{int(props)}"><title>{escape(label)}</title>'
            f'<rect x="{x:.1f}" y="{base - units_height:.1f}" width="{bar:.1f}" height="{units_height:.1f}" fill="{UNIT_COLOUR}"/>'
            f'<rect x="{x:.1f}" y="{base - units_height - props_height:.1f}" width="{bar:.1f}" height="{props_height:.1f}" '
            f'fill="{PROPERTY_COLOUR}"/>'
            f'<text x="{x + bar / 2:.1f}" y="{base + 14}" text-anchor="middle" font-size="10">{int(point["id"])}</text>'
            f'<text x="{x + bar / 2:.1f}" y="{base - units_height - props_height - 3:.1f}" text-anchor="middle" '
            f'font-size="10">{units + props}</text></a>'
        )
    axes = (
        f'<line x1="{LEFT}" y1="{TOP + plot_height}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_height}" stroke="#888"/>'
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_height}" stroke="#888"/>'
        f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end" font-size="10">{highest}</text>'
        f'<text x="{LEFT - 6}" y="{TOP + plot_height}" text-anchor="end" font-size="10">0</text>'
        f'<text x="{LEFT + plot_width / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" font-size="11">snapshot (oldest left)</text>'
    )
    legend = (
        f'<rect x="{LEFT}" y="6" width="10" height="10" fill="{UNIT_COLOUR}"/>'
        f'<text x="{LEFT + 14}" y="15" font-size="11">units deactivated</text>'
        f'<rect x="{LEFT + 130}" y="6" width="10" height="10" fill="{PROPERTY_COLOUR}"/>'
        f'<text x="{LEFT + 144}" y="15" font-size="11">properties deactivated</text>'
    )
    return (
        f'<figure><svg id="deactivations-chart" xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" aria-labelledby="chart-title chart-description">'
        f'<title id="chart-title">{escape(title)}</title><desc id="chart-description">{escape(description)}</desc>'
        f"{legend}{axes}{''.join(bars)}</svg><figcaption>{escape(description)}</figcaption></figure>"
    )
