"""Small charts drawn on the server as inline SVG: no script, no CDN, readable at any width."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 420, 150, 34, 20, 10


@dataclass(frozen=True)
class Series:
    """One named row of values, drawn in one colour."""

    name: str
    values: Sequence[float]
    colour: str


def nice_max(value: float) -> float:
    """A round upper bound for the axis (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= value:
        step *= 10
    for factor in (1, 2, 5, 10):
        if value <= step * factor:
            return step * factor
    return step * 10


def columns(title: str, labels: Sequence[str], series: Sequence[Series]) -> SafeString:
    """Grouped columns, one group per label; every column says its value on hover."""
    top = nice_max(max((v for s in series for v in s.values), default=0))
    plot_w, plot_h = WIDTH - LEFT - 4, HEIGHT - BOTTOM - TOP
    group_w = plot_w / max(1, len(labels))
    bar_w = max(1.0, group_w * 0.8 / max(1, len(series)))
    parts = [axes(top, plot_w, plot_h)]
    for i, label in enumerate(labels):
        for j, s in enumerate(series):
            value = s.values[i] if i < len(s.values) else 0
            h = plot_h * value / top
            x = LEFT + i * group_w + group_w * 0.1 + j * bar_w
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}">'
                    "<title>{} {}: {}</title></rect>",
                    n(x),
                    n(TOP + plot_h - h),
                    n(bar_w),
                    n(h),
                    s.colour,
                    label,
                    s.name,
                    fmt(value),
                )
            )
    parts.extend(x_labels(labels, group_w))
    legend = "".join(
        format_html('<span class="chart-key" style="--key:{}">{}</span>', s.colour, s.name)
        for s in series
    )
    return svg(title, "".join(parts), legend)


def bars(title: str, items: Sequence[tuple[str, float]], colour: str = "#417690") -> SafeString:
    """Horizontal bars with their labels and values (numbers by status)."""
    top = nice_max(max((v for _, v in items), default=0))
    row, label_w = 20, 92
    height = TOP + row * max(1, len(items)) + 4
    parts = []
    for i, (label, value) in enumerate(items):
        y = TOP + i * row
        w = (WIDTH - label_w - 40) * value / top
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="end" class="chart-label">{}</text>'
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>'
                '<text x="{}" y="{}" class="chart-value">{}</text>',
                label_w - 6,
                y + 15,
                label,
                label_w,
                y + 3,
                n(w),
                row - 6,
                colour,
                label,
                fmt(value),
                n(label_w + w + 4),
                y + 15,
                fmt(value),
            )
        )
    return svg(title, "".join(parts), "", height)


def axes(top: float, plot_w: float, plot_h: float) -> str:
    """The baseline, a mid grid line and the axis figures."""
    base = TOP + plot_h
    return format_html(
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="chart-axis"/>'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="chart-grid"/>'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="chart-grid"/>'
        '<text x="{}" y="{}" text-anchor="end" class="chart-label">{}</text>'
        '<text x="{}" y="{}" text-anchor="end" class="chart-label">{}</text>'
        '<text x="{}" y="{}" text-anchor="end" class="chart-label">0</text>',
        LEFT,
        base,
        n(LEFT + plot_w),
        base,
        LEFT,
        TOP,
        n(LEFT + plot_w),
        TOP,
        LEFT,
        n(TOP + plot_h / 2),
        n(LEFT + plot_w),
        n(TOP + plot_h / 2),
        LEFT - 4,
        TOP + 4,
        fmt(top),
        LEFT - 4,
        n(TOP + plot_h / 2 + 4),
        fmt(top / 2),
        LEFT - 4,
        base + 4,
    )


def x_labels(labels: Sequence[str], group_w: float) -> list[str]:
    """First, middle and last label under the columns (more would collide on a phone)."""
    if not labels:
        return []
    last = len(labels) - 1
    anchors = {0: "start", last // 2: "middle", last: "end"}
    return [
        format_html(
            '<text x="{}" y="{}" text-anchor="{}" class="chart-label">{}</text>',
            n(
                LEFT
                + i * group_w
                + (0 if anchor == "start" else group_w if anchor == "end" else group_w / 2)
            ),
            HEIGHT - 5,
            anchor,
            labels[i],
        )
        for i, anchor in sorted(anchors.items())
    ]


def svg(title: str, body: str, legend: str, height: int = HEIGHT) -> SafeString:
    """The figure: a titled, scalable SVG with its legend."""
    return mark_safe(  # noqa: S308 - every piece above is built with format_html (escaped)
        f'<figure class="chart"><figcaption>{escape(title)} {legend}</figcaption>'
        f'<svg viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" '
        f'preserveAspectRatio="xMinYMin meet">{body}</svg></figure>'
    )


def n(value: float) -> str:
    """A coordinate with one decimal."""
    return f"{value:.1f}"


def fmt(value: float) -> str:
    """A figure for people: no trailing .0."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
