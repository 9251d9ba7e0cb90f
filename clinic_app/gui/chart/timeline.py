"""The cycle timeline: a custom-painted, zoomable, scrollable chart of a patient's treatment.

``TimelineCanvas`` paints one :class:`TimelineData`; all geometry is computed when the data,
the zoom or the font changes (``_relayout``), so ``paintEvent`` only walks the items that
intersect the exposed rectangle. ``TimelineWidget`` wraps the canvas in a scroll area with the
zoom controls, a fixed column of lane titles and a legend.

Every marker says what it means in a shape or text as well as a colour: doses are hollow
(planned), filled (given), a cross (held) or a dash (missed); lab days carry "G<grade>"; AEs
carry their grade (with "⚠" from grade 3); responses their category; dose changes an arrow
and the new dose; delays are hatched with "+N d"; today's line is labelled "Today".
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum

from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QBrush,
    QColor,
    QFontMetricsF,
    QHelpEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPolygonF,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from clinic_app.core.day_words import day_month_text, day_text
from clinic_app.core.dosing import format_dose_change
from clinic_app.core.records import DoseStatus
from clinic_app.gui.chart.timeline_model import (
    AeMark,
    CycleSpan,
    DoseMark,
    LabDay,
    ModificationMark,
    ResponseMark,
    TimelineData,
    empty_timeline,
)
from clinic_app.gui.warnings import WARNING_SIGN

# Item kinds, as emitted by ``itemActivated(kind, id)``.
DOSE = "dose"
LAB = "lab"
AE = "ae"
RESPONSE = "response"
MODIFICATION = "modification"
CYCLE = "cycle"

_DayToX = Callable[[date], float]

LEGEND = (
    "○ planned  ● given  ✕ held  ▬ missed  ·  Lab days: G = worst CTCAE grade "
    "(+ = may be higher)  ·  ◆ AE grade (⚠ = grade 3 or more)  ·  Response: IMWG category "
    "(✓ confirmed)  ·  ▼▲ dose change  ·  ▨ +N d = cycle delay  ·  red line = Today"
)

# CTCAE grade colours; the grade is always written on the marker as well.
_GRADE_FILL = {
    0: QColor("#dcedc8"),
    1: QColor("#fff59d"),
    2: QColor("#ffb74d"),
    3: QColor("#e53935"),
    4: QColor("#8e24aa"),
    5: QColor("#212121"),
}
_INDUCTION_FILL = QColor("#dbe9f8")
_MAINTENANCE_FILL = QColor("#d7f0dc")
_PLANNED_FILL = QColor("#f4f4f4")
_DOSE_COLOUR = {
    DoseStatus.PLANNED: QColor("#546e7a"),
    DoseStatus.GIVEN: QColor("#1b5e20"),
    DoseStatus.HELD: QColor("#e65100"),
    DoseStatus.MISSED: QColor("#b71c1c"),
}
_TODAY = QColor("#d50000")
TODAY_TEXT = "Today"
_GOOD_RESPONSE = QColor("#bbdefb")
_PD_RESPONSE = QColor("#ffcdd2")
_NEUTRAL = QColor("#eeeeee")
# One shared "no outline" pen: passing Qt.PenStyle.NoPen to setPen() on every call crashed
# PySide6 6.12 (a reference-count bug: "deallocating None") after a few thousand markers.
_NO_PEN = QPen(Qt.PenStyle.NoPen)


class Shape(Enum):
    HOLLOW = "hollow"
    FILLED = "filled"
    CROSS = "cross"
    DASH = "dash"
    BADGE = "badge"  # rounded rectangle with text (labs, responses)
    DIAMOND = "diamond"  # AE onset, text to its right
    ARROW = "arrow"  # dose modification, text to its right


@dataclass
class Item:
    """One painted marker: where it is, how it looks, what it says and what it opens."""

    kind: str
    id: int | None
    rect: QRectF
    shape: Shape
    colour: QColor
    tooltip: str
    text: str = ""
    text_rect: QRectF | None = None
    text_colour: QColor | None = None
    bold: bool = False
    up: bool = False
    batched: bool = False
    """Painted as part of a path (doses), not one by one."""

    @property
    def bounds(self) -> QRectF:
        return self.rect.united(self.text_rect) if self.text_rect is not None else self.rect


@dataclass
class Band:
    """A wide background item: a cycle, a delay gap or an AE's duration bar."""

    kind: str
    id: int | None
    rect: QRectF
    colour: QColor
    tooltip: str
    text: str = ""
    hatched: bool = False


@dataclass(frozen=True)
class Row:
    title: str
    top: float
    height: float

    @property
    def centre(self) -> float:
        return self.top + self.height / 2


def _covered(tx: float, label: str, fm: QFontMetricsF, today_box: QRectF | None) -> bool:
    # Half a date under the Today mark ("15 Feb" of "15 Feb 2025") reads as another date.
    if today_box is None:
        return False
    return QRectF(tx + 2, today_box.top(), fm.horizontalAdvance(label), 1).intersects(today_box)


def _text_on(fill: QColor) -> QColor:
    # Dark text on light fills, white on dark ones (WCAG-style luminance split).
    return QColor("#000000") if fill.lightnessF() > 0.55 else QColor("#ffffff")


class TimelineCanvas(QWidget):
    """The painted chart. Coordinates: x = ``pad + days_from_first * pixels_per_day``."""

    itemActivated = Signal(str, int)
    layoutChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._data = empty_timeline(date.today())
        self._ppd = 8.0
        self._items: list[Item] = []
        self._lefts: list[float] = []
        self._max_item_width = 0.0
        self._bands: list[Band] = []
        self._ae_bars: list[Band] = []
        self._ticks: list[tuple[float, str]] = []
        self._tick_xs: list[float] = []
        self._body = (0.0, 0.0)
        self._dose_paths: list[tuple[QRectF, QPen, QBrush, QPainterPath]] = []
        self._rows: list[Row] = []
        self._ae_rows = 1
        self._height = 0.0
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setAccessibleName("Cycle timeline")
        self._relayout()

    # -- public API ------------------------------------------------------------------------
    @property
    def data(self) -> TimelineData:
        return self._data

    @property
    def pixels_per_day(self) -> float:
        return self._ppd

    @property
    def rows(self) -> tuple[Row, ...]:
        return tuple(self._rows)

    @property
    def items(self) -> tuple[Item, ...]:
        return tuple(self._items)

    @property
    def pad(self) -> float:
        # Room before the first and after the last day for badges centred on them.
        return 3 * QFontMetricsF(self.font()).height()

    def set_data(self, data: TimelineData) -> None:
        self._data = data
        self._relayout()

    def set_pixels_per_day(self, ppd: float) -> None:
        if ppd <= 0 or not math.isfinite(ppd):
            raise ValueError(f"pixels per day must be positive, not {ppd}")
        if abs(ppd - self._ppd) > 1e-9:
            self._ppd = ppd
            self._relayout()

    def x_of(self, day: date) -> float:
        """The left edge of ``day``."""
        return self.pad + self._data.offset(day) * self._ppd

    def day_at(self, x: float) -> float:
        """Days from the first day on the axis at canvas ``x`` (fractional)."""
        return (x - self.pad) / self._ppd

    def today_x(self) -> float | None:
        """The x of the today line (the middle of today), or None when today is off the axis."""
        if not self._data.today_on_axis:
            return None
        return self.x_of(self._data.today) + self._ppd / 2

    def content_width(self) -> float:
        return 2 * self.pad + self._data.total_days * self._ppd

    def hit_test(self, point: QPointF | QPoint) -> Item | Band | None:
        """The marker under ``point``; markers win over AE bars, which win over cycle bands."""
        p = QPointF(point)
        slack = 2.0
        start = bisect.bisect_left(self._lefts, p.x() - self._max_item_width - slack)
        best: Item | None = None
        for item in self._items[start:]:
            if item.rect.left() > p.x() + slack:
                break
            if item.bounds.adjusted(-slack, -slack, slack, slack).contains(p):
                best = item  # later items are painted on top
        if best is not None:
            return best
        for bar in reversed(self._ae_bars):
            if bar.rect.adjusted(0, -slack, 0, slack).contains(p):
                return bar
        for band in self._bands:
            if band.rect.contains(p):
                return band
        return None

    def tooltip_at(self, point: QPointF | QPoint) -> str | None:
        hit = self.hit_test(point)
        return hit.tooltip if hit is not None else None

    def find_item(self, kind: str, item_id: int) -> Item | Band | None:
        for item in self._items:
            if item.kind == kind and item.id == item_id:
                return item
        for band in (*self._bands, *self._ae_bars):
            if band.kind == kind and band.id == item_id:
                return band
        return None

    def point_of(self, kind: str, item_id: int) -> QPoint:
        """The centre of a marker's shape, for tests and for scrolling to it."""
        found = self.find_item(kind, item_id)
        if found is None:
            raise KeyError(f"no {kind} {item_id} on the timeline")
        return found.rect.center().toPoint()

    def describe(self) -> str:
        """A one-paragraph summary (the accessible description)."""
        d = self._data
        if not d.cycles:
            return "No cycles recorded."
        parts = [
            f"{len(d.cycles)} cycles from {day_text(d.cycles[0].start)} to "
            f"{day_text(d.cycles[-1].end)}",
        ]
        maintenance = [c.number for c in d.cycles if c.is_maintenance]
        if maintenance:
            parts.append(f"maintenance from cycle {maintenance[0]}")
        delays = [c for c in d.cycles if c.gap_start is not None]
        if delays:
            parts.append(f"{len(delays)} delayed cycle(s)")
        severe = [a for a in d.adverse_events if a.severe]
        if severe:
            parts.append(f"{len(severe)} adverse event(s) of grade 3 or more")
        if d.lab_days:
            worst = max(day.worst_grade for day in d.lab_days)
            parts.append(f"{len(d.lab_days)} lab days, worst lab grade {worst}")
        return "; ".join(parts) + "."

    # -- geometry --------------------------------------------------------------------------
    def sizeHint(self) -> QSize:
        return QSize(math.ceil(self.content_width()), math.ceil(self._height))

    def _relayout(self) -> None:
        self._compute_layout()

    def _compute_layout(self) -> None:
        fm = QFontMetricsF(self.font())
        h = fm.height()
        pad = self.pad
        ppd = self._ppd
        d = self._data

        # Rows: cycle band, date ruler, one lane per drug, labs, AEs (packed), responses, changes.
        self._ae_rows = _pack_rows(d.adverse_events)
        rows: list[Row] = []
        top = 0.0
        for title, height in (
            ("Cycle", 1.6 * h),
            ("Date", 1.4 * h),
            *[(lane.label, 1.6 * h) for lane in d.lanes],
            ("Labs (worst grade)", 1.6 * h),
            ("Adverse events", 1.5 * h * self._ae_rows),
            ("Response", 1.6 * h),
            ("Dose changes", 1.6 * h),
        ):
            rows.append(Row(title, top, height))
            top += height
        self._rows = rows
        self._height = top + 0.3 * h
        band_row, ruler_row = rows[0], rows[1]
        lane_rows = rows[2 : 2 + len(d.lanes)]
        lab_row, ae_row, response_row, change_row = rows[2 + len(d.lanes) :]
        body_top, body_bottom = ruler_row.top, top

        def x(day: date) -> float:
            return pad + d.offset(day) * ppd

        # Background: cycles (shaded and labelled by phase) and delay gaps (hatched, "+N d").
        bands: list[Band] = []
        for cycle in d.cycles:
            left, right = x(cycle.start), x(cycle.end) + ppd
            fill = _MAINTENANCE_FILL if cycle.is_maintenance else _INDUCTION_FILL
            if cycle.status.value == "planned":
                fill = fill.lighter(104)
            bands.append(
                Band(
                    CYCLE,
                    cycle.id,
                    QRectF(left, band_row.top, right - left, body_bottom - band_row.top),
                    fill,
                    _cycle_tooltip(cycle),
                    _fit_text(fm, _cycle_labels(cycle), right - left - 4),
                )
            )
            if cycle.gap_start is not None:
                gap_left = x(cycle.gap_start)
                gap = (cycle.start - cycle.gap_start).days
                bands.append(
                    Band(
                        "delay",
                        cycle.id,
                        QRectF(gap_left, band_row.top, left - gap_left, body_bottom - band_row.top),
                        QColor("#9e9e9e"),
                        _delay_tooltip(cycle, gap),
                        _fit_text(fm, (f"+{gap} d", f"+{gap}"), left - gap_left, always=True),
                        hatched=True,
                    )
                )
        self._bands = bands

        # Date ruler: pick a step whose labels do not collide.
        label_w = fm.horizontalAdvance("28 Sep 2024") + h
        step = next((s for s in (1, 2, 7, 14, 28, 56, 91, 182, 364) if s * ppd >= label_w), 728)
        short_w = fm.horizontalAdvance("28 Sep") + h
        short_step = next((s for s in (1, 2, 7, 14) if s * ppd >= short_w), None)
        ticks: list[tuple[float, str]] = []
        if short_step is not None and short_step < step:
            step = short_step
        for i in range(0, d.total_days, step):
            day = d.first_day + timedelta(days=i)
            text = day_month_text(day)
            if step >= 28:
                text += f" {day.year}"
            ticks.append((pad + i * ppd, text))
        self._ticks = ticks
        self._tick_xs = [t[0] for t in ticks]

        items: list[Item] = []
        marker = max(3.0, min(ppd * 0.7, h * 0.8))
        # Doses are the bulk of the chart: they are painted as one path per cycle, shape and
        # status (a few dozen calls), and kept as items only for hit-testing.
        batches: dict[tuple[int, Shape, str], list[Item]] = {}
        for lane, row in zip(d.lanes, lane_rows, strict=True):
            for dose in lane.doses:
                cx = x(dose.on) + ppd / 2
                item = _dose_item(dose, lane.label, cx, row.centre, marker)
                item.batched = True
                items.append(item)
                key = (dose.cycle_number, item.shape, item.colour.name())
                batches.setdefault(key, []).append(item)
        self._dose_paths = [_dose_path(group) for group in batches.values()]
        items += _lab_items(d.lab_days, x, ppd, lab_row, fm)
        ae_items, ae_bars = _ae_items(d.adverse_events, x, ppd, ae_row, self._ae_rows, fm, d)
        items += ae_items
        self._ae_bars = ae_bars
        items += _response_items(d.responses, x, ppd, response_row, fm)
        items += _modification_items(d.modifications, d, x, ppd, change_row, fm)
        _hide_colliding_text(items)
        items.sort(key=lambda i: i.bounds.left())
        self._items = items
        self._lefts = [i.bounds.left() for i in items]
        self._max_item_width = max((i.bounds.width() for i in items), default=0.0)
        self._body = (body_top, body_bottom)

        self.setFixedSize(math.ceil(self.content_width()), math.ceil(self._height))
        self.setAccessibleDescription(self.describe())
        self.update()
        self.layoutChanged.emit()

    # -- painting --------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        exposed = QRectF(event.rect())
        painter = QPainter(self)
        try:
            self._paint(painter, exposed)
        finally:
            painter.end()

    def _today_box(self, fm: QFontMetricsF) -> QRectF | None:
        """Where the ruler's Today mark sits, None when today is off the chart."""
        today = self.today_x()
        if today is None:
            return None
        ruler_row = self._rows[1]
        width = fm.horizontalAdvance(TODAY_TEXT) + 6
        return QRectF(today - width / 2, ruler_row.top + 1, width, ruler_row.height * 0.7)

    def ruler_labels(self) -> list[str]:
        """The dates written on the ruler, left to right: each tick's, except where the Today
        mark would cover it."""
        fm = QFontMetricsF(self.font())
        box = self._today_box(fm)
        return [label for tx, label in self._ticks if not _covered(tx, label, fm, box)]

    def _paint(self, painter: QPainter, exposed: QRectF) -> None:
        palette = self.palette()
        painter.fillRect(exposed, palette.base())
        fm = QFontMetricsF(self.font())
        h = fm.height()
        text_colour = palette.text().color()
        band_row, ruler_row = self._rows[0], self._rows[1]

        # Lane separators.
        painter.setPen(QPen(palette.mid().color(), 0))
        for row in self._rows[1:]:
            painter.drawLine(QPointF(exposed.left(), row.top), QPointF(exposed.right(), row.top))

        for band in self._bands:
            if not band.rect.intersects(exposed):
                continue
            if band.hatched:
                painter.fillRect(band.rect, QBrush(band.colour, Qt.BrushStyle.BDiagPattern))
                painter.setPen(QPen(text_colour))
                box = QRectF(band.rect.left(), band_row.top, band.rect.width(), band_row.height)
                painter.fillRect(box, palette.base())
                painter.drawText(box, Qt.AlignmentFlag.AlignCenter, band.text)
                continue
            painter.fillRect(
                QRectF(band.rect.left(), band_row.top, band.rect.width(), band_row.height),
                band.colour,
            )
            faint = QColor(band.colour)
            faint.setAlpha(90)
            painter.fillRect(
                QRectF(
                    band.rect.left(),
                    ruler_row.top + ruler_row.height,
                    band.rect.width(),
                    band.rect.bottom() - ruler_row.top - ruler_row.height,
                ),
                faint,
            )
            painter.setPen(QPen(palette.dark().color(), 0))
            painter.drawLine(band.rect.topLeft(), band.rect.bottomLeft())
            painter.setPen(QPen(text_colour))
            painter.drawText(
                QRectF(band.rect.left() + 2, band_row.top, band.rect.width() - 4, band_row.height),
                Qt.AlignmentFlag.AlignCenter,
                band.text,
            )

        # Ruler ticks. A date the Today mark would cover is not written: half a date under
        # the mark ("15 Feb" of 15 Feb 2025) reads as another date.
        today = self.today_x()
        today_box = self._today_box(fm)
        painter.setPen(QPen(text_colour))
        first = bisect.bisect_left(self._tick_xs, exposed.left() - 12 * h)
        for tx, label in self._ticks[first:]:
            if tx > exposed.right():
                break
            painter.drawLine(
                QPointF(tx, ruler_row.top + ruler_row.height * 0.7),
                QPointF(tx, ruler_row.top + ruler_row.height),
            )
            if _covered(tx, label, fm, today_box):
                continue
            painter.drawText(
                QRectF(tx + 2, ruler_row.top, 12 * h, ruler_row.height * 0.8),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                label,
            )

        # AE duration bars.
        for bar in self._ae_bars:
            if bar.rect.intersects(exposed):
                painter.fillRect(bar.rect, bar.colour)

        # Doses: one path per cycle, shape and status, where it meets the exposed rectangle.
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for bounds, pen, brush, path in self._dose_paths:
            if bounds.intersects(exposed):
                painter.setPen(pen)
                painter.setBrush(brush)
                painter.drawPath(path)

        # Other markers intersecting the exposed rectangle only.
        start = bisect.bisect_left(self._lefts, exposed.left() - self._max_item_width)
        for item in self._items[start:]:
            if item.bounds.left() > exposed.right():
                break
            if not item.batched and item.bounds.intersects(exposed):
                _paint_item(painter, item, text_colour)

        if (
            today is not None
            and today_box is not None
            and exposed.left() - h <= today <= exposed.right() + 4 * h
        ):
            pen = QPen(_TODAY, max(2.0, h / 8), Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawLine(QPointF(today, ruler_row.top), QPointF(today, self._body[1]))
            painter.fillRect(today_box, _TODAY)
            painter.setPen(QPen(QColor("#ffffff")))
            painter.drawText(today_box, Qt.AlignmentFlag.AlignCenter, TODAY_TEXT)

    # -- interaction -----------------------------------------------------------------------
    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            text = self.tooltip_at(event.pos())
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.ApplicationFontChange):
            self._relayout()
        return super().event(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            hit = self.hit_test(event.position())
            if hit is not None and hit.id is not None:
                kind = CYCLE if hit.kind == "delay" else hit.kind
                self.itemActivated.emit(kind, hit.id)
                event.accept()
                return
        super().mouseReleaseEvent(event)


# -- item builders ---------------------------------------------------------------------------


def _pack_rows(events: Sequence[AeMark]) -> int:
    ends: list[date] = []
    for ae in events:
        _ae_slot(ae, ends)
    return max(1, min(len(ends), 4))


def _ae_slot(ae: AeMark, ends: list[date]) -> int:
    """Greedy interval packing: the first sub-row free on the onset day (at most four)."""
    stop = ae.resolved or date.max
    for i, end in enumerate(ends):
        if end < ae.onset:
            ends[i] = stop
            return i
    if len(ends) < 4:
        ends.append(stop)
        return len(ends) - 1
    return 3


def _dose_item(dose: DoseMark, drug_label: str, cx: float, cy: float, size: float) -> Item:
    shape = {
        DoseStatus.PLANNED: Shape.HOLLOW,
        DoseStatus.GIVEN: Shape.FILLED,
        DoseStatus.HELD: Shape.CROSS,
        DoseStatus.MISSED: Shape.DASH,
    }[dose.status]
    tooltip = (
        f"{drug_label}, cycle {dose.cycle_number} day {dose.day} ({day_text(dose.on)})\n"
        f"{dose.describe()}"
    )
    rect = QRectF(cx - size / 2, cy - size / 2, size, size)
    return Item(DOSE, dose.id, rect, shape, _DOSE_COLOUR[dose.status], tooltip)


def _dose_path(group: Sequence[Item]) -> tuple[QRectF, QPen, QBrush, QPainterPath]:
    """One path for doses of one shape and colour (see ``_paint_item`` for the shapes)."""
    shape, colour = group[0].shape, group[0].colour
    size = group[0].rect.width()
    path = QPainterPath()
    for item in group:
        r = item.rect
        if shape in (Shape.HOLLOW, Shape.FILLED):
            path.addEllipse(r)
        elif shape is Shape.CROSS:
            path.moveTo(r.topLeft())
            path.lineTo(r.bottomRight())
            path.moveTo(r.topRight())
            path.lineTo(r.bottomLeft())
        else:  # Shape.DASH
            path.addRect(
                QRectF(r.left(), r.center().y() - r.height() / 6, r.width(), r.height() / 3)
            )
    if shape is Shape.HOLLOW:
        pen, brush = QPen(colour, max(1.0, size / 6)), QBrush()
    elif shape is Shape.CROSS:
        pen, brush = QPen(colour, max(1.5, size / 5)), QBrush()
    else:
        pen, brush = _NO_PEN, QBrush(colour)
    bounds = path.boundingRect().adjusted(-size, -size, size, size)
    return bounds, pen, brush, path


def _lab_items(
    days: Sequence[LabDay],
    x: _DayToX,
    ppd: float,
    row: Row,
    fm: QFontMetricsF,
) -> list[Item]:
    items: list[Item] = []
    h = fm.height()
    for day in days:
        fill = _GRADE_FILL.get(day.worst_grade, _GRADE_FILL[5])
        text = day.grade_label
        width = max(fm.horizontalAdvance(text) + 6, min(ppd * 0.9, 3 * h))
        cx = x(day.on) + ppd / 2
        rect = QRectF(cx - width / 2, row.centre - 0.6 * h, width, 1.2 * h)
        lines = [f"Labs on {day_text(day.on)}: worst CTCAE grade {day.grade_label[1:]}"]
        for r in day.results:
            term = f" ({r.term}, grade {r.grade_text})" if r.term else " (no CTCAE lab grade)"
            lines.append(f"• {r.explanation}{term}")
        items.append(
            Item(
                LAB,
                day.worst_id,
                rect,
                Shape.BADGE,
                fill,
                "\n".join(lines),
                text,
                rect,
                _text_on(fill),
                bold=day.severe,
            )
        )
    return items


def _ae_items(
    events: Sequence[AeMark],
    x: _DayToX,
    ppd: float,
    row: Row,
    sub_rows: int,
    fm: QFontMetricsF,
    data: TimelineData,
) -> tuple[list[Item], list[Band]]:
    items: list[Item] = []
    bars: list[Band] = []
    h = fm.height()
    sub_h = row.height / sub_rows
    ends: list[date] = []
    for ae in events:
        slot = min(_ae_slot(ae, ends), sub_rows - 1)
        cy = row.top + sub_h * (slot + 0.5)
        fill = _GRADE_FILL.get(ae.grade, _GRADE_FILL[5])
        status = f"resolved {day_text(ae.resolved)}" if ae.resolved is not None else "not resolved"
        tooltip = (
            f"{ae.term}: CTCAE grade {ae.grade}{' (serious)' if ae.serious else ''}"
            f"{' ' + WARNING_SIGN if ae.severe else ''}\nonset {day_text(ae.onset)}, {status}"
        )
        cx = x(ae.onset) + ppd / 2
        end = ae.resolved or data.last_day
        bar_rect = QRectF(cx, cy - h * 0.12, max(0.0, x(end) + ppd / 2 - cx), h * 0.24)
        bars.append(Band(AE, ae.id, bar_rect, fill.darker(110), tooltip))
        size = max(0.7 * h, min(ppd * 0.9, h))
        rect = QRectF(cx - size / 2, cy - size / 2, size, size)
        text = f"{WARNING_SIGN} G{ae.grade}" if ae.severe else f"G{ae.grade}"
        text_w = fm.horizontalAdvance(text) + 4
        text_rect = QRectF(rect.right() + 2, cy - h / 2, text_w, h)
        items.append(
            Item(AE, ae.id, rect, Shape.DIAMOND, fill, tooltip, text, text_rect, bold=ae.severe)
        )
    return items, bars


def _response_items(
    marks: Sequence[ResponseMark], x: _DayToX, ppd: float, row: Row, fm: QFontMetricsF
) -> list[Item]:
    items: list[Item] = []
    h = fm.height()
    for mark in marks:
        text = mark.label
        fill = _PD_RESPONSE if mark.category == "PD" else _GOOD_RESPONSE
        if mark.category in (None, "baseline", "not evaluable"):  # no response to colour
            fill = _NEUTRAL
        width = fm.horizontalAdvance(text) + 8
        cx = x(mark.on) + ppd / 2
        rect = QRectF(cx - width / 2, row.centre - 0.6 * h, width, 1.2 * h)
        confirmed = " (confirmed)" if mark.confirmed else ""
        category = mark.category or "not classified"
        tooltip = f"Response {day_text(mark.on)}: {category}{confirmed}\n{mark.explanation}"
        items.append(
            Item(
                RESPONSE,
                mark.id,
                rect,
                Shape.BADGE,
                fill,
                tooltip,
                text,
                rect,
                QColor("#000000"),
                bold=mark.category == "PD",
            )
        )
    return items


def _modification_items(
    marks: Sequence[ModificationMark],
    data: TimelineData,
    x: _DayToX,
    ppd: float,
    row: Row,
    fm: QFontMetricsF,
) -> list[Item]:
    names = {lane.drug: lane.label for lane in data.lanes}
    items: list[Item] = []
    h = fm.height()
    for mark in marks:
        if mark.on is None:
            continue  # its cycle is not on the chart; the changes tab still lists it
        label = names.get(mark.drug, mark.drug)
        arrow = "▼" if mark.new_dose < mark.old_dose else "▲"
        # rules §8: both doses with their unit (mg, or mg/m² for bendamustine)
        change = format_dose_change(label, mark.old_dose, mark.new_dose, mark.unit or None)
        tooltip = (
            f"{change} "
            f"from cycle {mark.effective_cycle} day {mark.effective_day}\n"
            f"Reason: {mark.reason}\nDecided by {mark.decided_by} on {day_text(mark.decided_on)}"
        )
        size = max(0.7 * h, min(ppd * 0.9, h))
        cx = x(mark.on) + ppd / 2
        rect = QRectF(cx - size / 2, row.centre - size / 2, size, size)
        text = f"{label} {mark.label}"
        text_rect = QRectF(rect.right() + 2, row.centre - h / 2, fm.horizontalAdvance(text) + 4, h)
        item = Item(
            MODIFICATION, mark.id, rect, Shape.ARROW, QColor("#37474f"), tooltip, text, text_rect
        )
        item.up = arrow == "▲"
        items.append(item)
    return items


def _hide_colliding_text(items: list[Item]) -> None:
    """Where labels would overlap, keep the more severe one (it is drawn; the other's text is
    dropped and stays in its tooltip and in the tabs)."""
    kept: dict[float, list[QRectF]] = {}
    with_text = [i for i in items if i.text_rect is not None]
    with_text.sort(key=lambda i: (not i.bold, i.rect.left()))
    for item in with_text:
        assert item.text_rect is not None
        lane = kept.setdefault(round(item.text_rect.center().y(), 1), [])
        if any(item.text_rect.intersects(other) for other in lane):
            if item.shape is Shape.BADGE:
                # A badge shrinks to a coloured square of one day; its grade is in the tooltip.
                side = min(item.rect.width(), item.rect.height())
                centre = item.rect.center()
                item.rect = QRectF(centre.x() - side / 4, centre.y() - side / 4, side / 2, side / 2)
            item.text = ""
            item.text_rect = None
            continue
        lane.append(item.text_rect)


def _paint_item(painter: QPainter, item: Item, text_colour: QColor) -> None:
    r = item.rect
    shape = item.shape
    if shape is Shape.HOLLOW:
        painter.setPen(QPen(item.colour, max(1.0, r.width() / 6)))
        painter.setBrush(QBrush())  # an empty brush: no fill
        painter.drawEllipse(r)
    elif shape is Shape.FILLED:
        painter.setPen(_NO_PEN)
        painter.setBrush(QBrush(item.colour))
        painter.drawEllipse(r)
    elif shape is Shape.CROSS:
        painter.setPen(QPen(item.colour, max(1.5, r.width() / 5)))
        painter.drawLine(r.topLeft(), r.bottomRight())
        painter.drawLine(r.topRight(), r.bottomLeft())
    elif shape is Shape.DASH:
        painter.fillRect(
            QRectF(r.left(), r.center().y() - r.height() / 6, r.width(), r.height() / 3),
            item.colour,
        )
    elif shape is Shape.BADGE:
        painter.setPen(QPen(item.colour.darker(150), 1))
        painter.setBrush(QBrush(item.colour))
        painter.drawRoundedRect(r, 3, 3)
    elif shape is Shape.DIAMOND:
        painter.setPen(QPen(item.colour.darker(170), 1))
        painter.setBrush(QBrush(item.colour))
        c = r.center()
        painter.drawPolygon(
            QPolygonF(
                [
                    QPointF(c.x(), r.top()),
                    QPointF(r.right(), c.y()),
                    QPointF(c.x(), r.bottom()),
                    QPointF(r.left(), c.y()),
                ]
            )
        )
    elif shape is Shape.ARROW:
        painter.setPen(_NO_PEN)
        painter.setBrush(QBrush(item.colour))
        tip, base = (r.top(), r.bottom()) if item.up else (r.bottom(), r.top())
        painter.drawPolygon(
            QPolygonF(
                [
                    QPointF(r.left(), base),
                    QPointF(r.right(), base),
                    QPointF(r.center().x(), tip),
                ]
            )
        )
    if item.text and item.text_rect is not None:
        font = painter.font()
        if font.bold() != item.bold:
            font.setBold(item.bold)
            painter.setFont(font)
        painter.setPen(QPen(item.text_colour or text_colour))
        align = (
            Qt.AlignmentFlag.AlignCenter
            if item.shape is Shape.BADGE
            else Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        )
        painter.drawText(item.text_rect, align, item.text)
        if item.bold:
            font.setBold(False)
            painter.setFont(font)


def _cycle_labels(cycle: CycleSpan) -> tuple[str, ...]:
    phase = cycle.phase.capitalize()
    planned = " (planned)" if cycle.status.value == "planned" else ""
    return (
        f"Cycle {cycle.number} · {phase}{planned}",
        f"Cycle {cycle.number} · {phase}",
        f"C{cycle.number} {phase}",
        f"C{cycle.number} {phase[:3]}",
        f"{cycle.number}{phase[0]}",
    )


def _fit_text(
    fm: QFontMetricsF, choices: Sequence[str], width: float, *, always: bool = False
) -> str:
    for text in choices:
        if fm.horizontalAdvance(text) <= width:
            return text
    return choices[-1] if always else ""


def _cycle_tooltip(cycle: CycleSpan) -> str:
    text = (
        f"{cycle.label} ({cycle.status.value})\n"
        f"{day_text(cycle.start)} – {day_text(cycle.end)}, {cycle.length_days} days"
    )
    if cycle.planned_start != cycle.start:
        text += f"\nplanned to start {day_text(cycle.planned_start)}"
    return text


def _delay_tooltip(cycle: CycleSpan, gap: int) -> str:
    text = f"Delay before cycle {cycle.number}: {gap} d"
    if cycle.delay_days != gap:
        text += f" (the record says {cycle.delay_days} d)"
    if cycle.delay_reason:
        text += f"\nReason: {cycle.delay_reason}"
    return text


# -- the scrollable widget with its controls ----------------------------------------------------


class _LaneTitles(QWidget):
    """The fixed column of lane titles beside the scrolling canvas."""

    def __init__(self, canvas: TimelineCanvas, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._canvas = canvas
        canvas.layoutChanged.connect(self._refresh)
        self._refresh()

    def _refresh(self) -> None:
        fm = QFontMetricsF(self.font())
        widest = max((fm.horizontalAdvance(r.title) for r in self._canvas.rows), default=0.0)
        self.setFixedWidth(math.ceil(widest + fm.height()))
        self.setFixedHeight(self._canvas.height())
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        self._paint_titles(event)

    def _paint_titles(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            palette = self.palette()
            painter.fillRect(event.rect(), palette.window())
            painter.setPen(QPen(palette.windowText().color()))
            fm = QFontMetricsF(self.font())
            for row in self._canvas.rows:
                painter.drawText(
                    QRectF(fm.height() / 2, row.top, self.width() - fm.height(), row.height),
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                    row.title,
                )
                painter.setPen(QPen(palette.mid().color()))
                painter.drawLine(QPointF(0, row.top), QPointF(self.width(), row.top))
                painter.setPen(QPen(palette.windowText().color()))
        finally:
            painter.end()


class TimelineWidget(QWidget):
    """The timeline with zoom controls: Ctrl+wheel, +/- keys (and Ctrl++/Ctrl+-), the slider,
    and "Fit" (Ctrl+0 or 0) to show the whole treatment."""

    itemActivated = Signal(str, int)
    ZOOM_STEP = 1.25
    SLIDER_STEPS = 1000

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = TimelineCanvas()
        self.canvas.itemActivated.connect(self.itemActivated)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidget(self.canvas)
        self.scroll_area.setWidgetResizable(False)
        self.scroll_area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.scroll_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll_area.viewport().installEventFilter(self)
        self.canvas.installEventFilter(self)
        self.titles = _LaneTitles(self.canvas)

        self.zoom_out_button = QToolButton()
        self.zoom_out_button.setText("−")
        self.zoom_out_button.setToolTip("Zoom out (-)")
        self.zoom_out_button.setAccessibleName("Zoom out")
        self.zoom_in_button = QToolButton()
        self.zoom_in_button.setText("+")
        self.zoom_in_button.setToolTip("Zoom in (+)")
        self.zoom_in_button.setAccessibleName("Zoom in")
        self.fit_button = QToolButton()
        self.fit_button.setText("Fit")
        self.fit_button.setToolTip("Show the whole treatment (0)")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, self.SLIDER_STEPS)
        self.slider.setAccessibleName("Timeline zoom")
        self.slider.setToolTip("Zoom: from the whole treatment (left) to single days (right)")
        self.zoom_label = QLabel()
        self.zoom_out_button.clicked.connect(self.zoom_out)
        self.zoom_in_button.clicked.connect(self.zoom_in)
        self.fit_button.clicked.connect(self.fit)
        self.slider.valueChanged.connect(self._slider_moved)
        self.legend = QLabel(LEGEND)
        self.legend.setWordWrap(True)
        self.legend.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Zoom:"))
        controls.addWidget(self.zoom_out_button)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.zoom_in_button)
        controls.addWidget(self.fit_button)
        controls.addWidget(self.zoom_label)
        chart = QHBoxLayout()
        chart.setSpacing(0)
        chart.addWidget(self.titles, 0, Qt.AlignmentFlag.AlignTop)
        chart.addWidget(self.scroll_area, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addLayout(chart)
        layout.addWidget(self.legend)

        for keys, slot in (
            ((QKeySequence.StandardKey.ZoomIn, "+", "="), self.zoom_in),
            ((QKeySequence.StandardKey.ZoomOut, "-"), self.zoom_out),
            (("Ctrl+0", "0"), self.fit),
        ):
            action = QAction(self)
            shortcuts: list[QKeySequence] = []
            for key in keys:
                if isinstance(key, QKeySequence.StandardKey):
                    shortcuts += QKeySequence.keyBindings(key)
                else:
                    shortcuts.append(QKeySequence(key))
            action.setShortcuts(shortcuts)
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(slot)
            self.addAction(action)
        self.setFocusProxy(self.canvas)
        self.canvas.layoutChanged.connect(self._sync_height)
        self._fitted = True
        self._sync_height()
        self._sync_slider()

    # -- zoom ------------------------------------------------------------------------------
    def set_data(self, data: TimelineData) -> None:
        self.canvas.set_data(data)
        self.fit()

    def fit_pixels_per_day(self) -> float:
        width = max(1, self.scroll_area.viewport().width())
        return float(max(0.05, (width - 2 * self.canvas.pad) / self.canvas.data.total_days))

    def max_pixels_per_day(self) -> float:
        # One day wide enough for a marker with its grade or category written beside it.
        height = QFontMetricsF(self.canvas.font()).height()
        return max(self.fit_pixels_per_day(), 5 * height)

    def set_pixels_per_day(self, ppd: float, anchor_x: float | None = None) -> None:
        """Zoom, keeping the day under ``anchor_x`` (viewport x; default: the middle) in place."""
        low, high = self.fit_pixels_per_day(), self.max_pixels_per_day()
        ppd = min(max(ppd, low), high)
        bar = self.scroll_area.horizontalScrollBar()
        view_x = self.scroll_area.viewport().width() / 2 if anchor_x is None else anchor_x
        day = self.canvas.day_at(bar.value() + view_x)
        self.canvas.set_pixels_per_day(ppd)
        bar.setRange(0, max(0, self.canvas.width() - self.scroll_area.viewport().width()))
        bar.setValue(round(self.canvas.pad + day * ppd - view_x))
        self._fitted = abs(ppd - low) < 1e-9
        self._sync_slider()

    def zoom_in(self) -> None:
        self.set_pixels_per_day(self.canvas.pixels_per_day * self.ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_pixels_per_day(self.canvas.pixels_per_day / self.ZOOM_STEP)

    def fit(self) -> None:
        self.set_pixels_per_day(self.fit_pixels_per_day())
        self._fitted = True

    def scroll_to_day(self, day: date) -> None:
        self.scroll_area.ensureVisible(
            round(self.canvas.x_of(day)), 0, round(self.canvas.pad * 4), 0
        )

    def _slider_moved(self, value: int) -> None:
        if self._syncing:
            return
        low, high = self.fit_pixels_per_day(), self.max_pixels_per_day()
        ppd = low * (high / low) ** (value / self.SLIDER_STEPS)
        self.set_pixels_per_day(ppd)

    _syncing = False

    def _sync_slider(self) -> None:
        low, high = self.fit_pixels_per_day(), self.max_pixels_per_day()
        ppd = self.canvas.pixels_per_day
        value = 0
        if high > low:
            value = round(self.SLIDER_STEPS * math.log(ppd / low) / math.log(high / low))
        self._syncing = True
        try:
            self.slider.setValue(max(0, min(self.SLIDER_STEPS, value)))
        finally:
            self._syncing = False
        days_shown = self.scroll_area.viewport().width() / ppd
        self.zoom_label.setText(f"{days_shown:.0f} days shown")

    def _sync_height(self) -> None:
        bar = self.scroll_area.horizontalScrollBar().sizeHint().height()
        self.scroll_area.setFixedHeight(self.canvas.height() + bar)
        self.titles.setFixedHeight(self.canvas.height())
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    # -- events ----------------------------------------------------------------------------
    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._fitted:
            self.fit()
        else:
            self.set_pixels_per_day(self.canvas.pixels_per_day)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel and isinstance(event, QWheelEvent):
            delta = event.angleDelta().y() or event.angleDelta().x()
            if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
                anchor = event.position().x()
                if watched is self.canvas:
                    anchor -= self.scroll_area.horizontalScrollBar().value()
                factor = self.ZOOM_STEP ** (delta / 120)
                self.set_pixels_per_day(self.canvas.pixels_per_day * factor, anchor)
                return True
            bar = self.scroll_area.horizontalScrollBar()
            bar.setValue(bar.value() - delta)
            return True
        return super().eventFilter(watched, event)
