"""Charts for the HTML report, drawn with matplotlib (the `report` extra) as PNG data URIs.

Only the object-oriented API (Figure + Agg canvas): no pyplot, no global figure state. Labels
are Chinese when a CJK font is installed (Debian: fonts-noto-cjk); without one the charts
fall back to the label codes rather than print empty boxes.
"""

from __future__ import annotations

import base64
import io
import logging
import re
from functools import cache
from pathlib import Path

log = logging.getLogger("triage.stats")

CJK_FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "WenQuanYi Zen Hei",
                "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", "SimHei", "Heiti SC",
                "Noto Sans CJK JP", "Droid Sans Fallback", "AR PL UMing CN")
_CJK_FILE = re.compile(r"cjk|wqy|wenquanyi|sourcehan|droidsansfallback|simhei|msyh|pingfang|uming",
                       re.IGNORECASE)
CURRENT, PREVIOUS, LATE = "#2f6db5", "#b8c7dc", "#c8463d"
DPI = 150
WIDE, NARROW = 7.0, 3.4  # inches: the text width of an A4 page with 15 mm margins, and half of it


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


@cache
def cjk_font() -> str | None:
    """The first CJK font family matplotlib can use, or None."""
    if not available():
        return None
    from matplotlib import font_manager

    def known() -> str | None:
        names = {font.name for font in font_manager.fontManager.ttflist}
        return next((family for family in CJK_FAMILIES if family in names), None)

    if (family := known()) is None:
        # matplotlib's font cache may predate a font installed since: look on disk once.
        for path in font_manager.findSystemFonts():
            if _CJK_FILE.search(Path(path).name):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        family = known()
    if family is None:
        log.warning("no CJK font found (install fonts-noto-cjk): chart labels fall back to codes")
    return family


def _style() -> dict:
    family = cjk_font()
    return {"font.family": [family, "DejaVu Sans"] if family else ["DejaVu Sans"],
            "font.size": 9, "axes.spines.top": False, "axes.spines.right": False}


def _render(draw, height: float, width: float = NARROW) -> str:
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # rc_context changes matplotlib's global settings for the block: reports are drawn by one
    # job at a time (the hourly `stats.report`) or by the command, never by concurrent threads.
    with matplotlib.rc_context(_style()):
        figure = Figure(figsize=(width, height), layout="constrained")
        FigureCanvasAgg(figure)
        draw(figure)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _legend_beside_title(axes) -> None:
    """Above the plot, right-aligned with the title's line, where no bar can be."""
    axes.legend(loc="lower right", bbox_to_anchor=(1, 1), ncols=2, frameon=False, fontsize=8,
                borderaxespad=0.2, handlelength=1.2)


def horizontal_bars(title: str, labels: list[str], values: list[float],
                    previous: list[float] | None = None, legend: tuple[str, str] = ("", ""),
                    percent: bool = False, notes: list[str] | None = None, wide: bool = False) -> str | None:
    """One bar per label (and a paler one for the previous period), largest on top."""
    if not available() or not labels:
        return None

    def draw(figure) -> None:
        axes = figure.subplots()
        positions = list(range(len(labels)))[::-1]
        size = 0.38 if previous is not None else 0.6
        offset = size / 2 if previous is not None else 0
        bars = axes.barh([p + offset for p in positions], values, height=size, color=CURRENT,
                         label=legend[0] or None)
        if previous is not None:
            axes.barh([p - offset for p in positions], previous, height=size, color=PREVIOUS,
                      label=legend[1] or None)
            _legend_beside_title(axes)
        texts = notes or [f"{v:.0%}" if percent else f"{v:g}" for v in values]
        axes.bar_label(bars, labels=texts, padding=3, fontsize=8)
        axes.set_yticks(positions, labels)
        axes.set_title(title, loc="left", fontsize=11, fontweight="bold")
        if percent:
            axes.set_xlim(0, 1.4)
            axes.set_xticks([0, 0.25, 0.5, 0.75, 1])
            axes.xaxis.set_major_formatter(lambda x, _: f"{x:.0%}")
        else:
            axes.set_xlim(0, max([*values, *(previous or []), 1]) * 1.15)
            axes.xaxis.get_major_locator().set_params(integer=True)

    rows = len(labels) * (1.5 if previous is not None else 1)
    return _render(draw, 0.7 + 0.22 * rows, WIDE if wide else NARROW)


def stacked_backlog(title: str, labels: list[str], on_time: list[int], overdue: list[int],
                    legend: tuple[str, str]) -> str | None:
    """Open cases per department, the overdue part in red."""
    if not available() or not labels:
        return None

    def draw(figure) -> None:
        axes = figure.subplots()
        positions = list(range(len(labels)))[::-1]
        axes.barh(positions, on_time, height=0.6, color=CURRENT, label=legend[0])
        axes.barh(positions, overdue, left=on_time, height=0.6, color=LATE, label=legend[1])
        for position, a, b in zip(positions, on_time, overdue, strict=True):
            axes.text(a + b, position, f" {a + b}", va="center", fontsize=8)
        axes.set_yticks(positions, labels)
        axes.set_xlim(0, max([a + b for a, b in zip(on_time, overdue, strict=True)] + [1]) * 1.15)
        axes.xaxis.get_major_locator().set_params(integer=True)
        axes.set_title(title, loc="left", fontsize=11, fontweight="bold")
        _legend_beside_title(axes)

    return _render(draw, 0.8 + 0.22 * len(labels))


def side_by_side(panels: list[tuple[str, list[str], list[int]]]) -> str | None:
    """Small bar charts in one row, e.g. by kind and by severity."""
    if not available() or not panels:
        return None

    def draw(figure) -> None:
        row = figure.subplots(1, len(panels), squeeze=False)[0]
        for axes, (title, labels, values) in zip(row, panels, strict=True):
            bars = axes.bar(range(len(labels)), values, color=CURRENT, width=0.6)
            axes.bar_label(bars, padding=2, fontsize=8)
            axes.set_xticks(range(len(labels)), labels)
            axes.set_ylim(0, max([*values, 1]) * 1.2)
            axes.yaxis.get_major_locator().set_params(integer=True)
            axes.set_title(title, loc="left", fontsize=11, fontweight="bold")

    return _render(draw, 2.2)
