"""Paint time of the cycle timeline for a 40-cycle patient, at whole-treatment and day zoom.

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_timeline.py``. Prints the
relayout time (geometry is computed on data/zoom change) and the paint time of what the
viewport shows (what a repaint costs), plus a full-canvas paint at fit zoom.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QImage, QPainter, QRegion
from PySide6.QtWidgets import QApplication

from clinic_app.core.cycles import CycleRow, CycleStatus
from clinic_app.core.records import (
    AdverseEvent,
    DoseEvent,
    DoseStatus,
    LabResult,
    ResponseAssessment,
)
from clinic_app.gui.chart.timeline import TimelineWidget
from clinic_app.gui.chart.timeline_model import TimelineData, build_timeline

D = Decimal
CYCLES = 40
REPEATS = 30


def forty_cycles() -> TimelineData:
    cycles, doses, labs, aes, responses = [], [], [], [], []
    start = date(2021, 1, 4)
    dose_id = 1
    for n in range(1, CYCLES + 1):
        delay = 7 if n % 9 == 0 else 0
        start += timedelta(days=delay)
        phase = "induction" if n <= 8 else "maintenance"
        cycles.append(
            CycleRow(
                1,
                n,
                phase,
                start - timedelta(days=delay),
                CycleStatus.COMPLETED,
                start,
                delay_days=delay,
                id=n,
            )
        )
        for day in range(1, 22):
            status = DoseStatus.HELD if (n + day) % 17 == 0 else DoseStatus.GIVEN
            doses.append(DoseEvent(n, day, "lenalidomide", D(25), status, id=dose_id))
            dose_id += 1
            if n <= 8:
                doses.append(DoseEvent(n, day, "thalidomide", D(100), DoseStatus.GIVEN, id=dose_id))
                dose_id += 1
        for day in (1, 8, 15, 22):
            doses.append(DoseEvent(n, day, "dexamethasone", D(20), DoseStatus.GIVEN, id=dose_id))
            dose_id += 1
            on = start + timedelta(days=day - 1)
            value = D("0.4") + D(n % 7) / 2
            labs.append(
                LabResult(
                    "anc",
                    value,
                    "10^9/L",
                    datetime(on.year, on.month, on.day, tzinfo=UTC),
                    value,
                    lln=D("1.8"),
                    id=len(labs) + 1,
                )
            )
        if n % 4 == 0:
            aes.append(
                AdverseEvent(
                    "Fatigue",
                    1 + n % 4,
                    start + timedelta(days=3),
                    start + timedelta(days=12),
                    id=n,
                )
            )
        responses.append(ResponseAssessment(start, serum_m_protein_g_dl=D("3.0") - D(n) / 20, id=n))
        start += timedelta(days=28)
    return build_timeline(
        cycles=cycles,
        doses=doses,
        labs=labs,
        adverse_events=aes,
        responses=responses,
        cycle_length_days=28,
        today=start,
        drug_order=["dexamethasone", "thalidomide", "lenalidomide"],
    )


def paint_ms(widget: TimelineWidget, rect: QRect) -> list[float]:
    canvas = widget.canvas
    image = QImage(rect.size(), QImage.Format.Format_ARGB32_Premultiplied)
    times = []
    for _ in range(REPEATS):
        painter = QPainter(image)
        t0 = time.perf_counter()
        canvas.render(painter, QPoint(0, 0), QRegion(rect))
        times.append((time.perf_counter() - t0) * 1000)
        painter.end()
    return times


def report(name: str, times: list[float]) -> float:
    median = statistics.median(times)
    print(f"{name:44s} median {median:7.2f} ms   min {min(times):7.2f}   max {max(times):7.2f}")
    return median


def main() -> None:
    app = QApplication.instance() or QApplication(sys.argv)
    t0 = time.perf_counter()
    data = forty_cycles()
    print(
        f"build_timeline ({CYCLES} cycles): {(time.perf_counter() - t0) * 1000:.1f} ms; "
        f"{len(data.lanes)} lanes, {sum(len(lane.doses) for lane in data.lanes)} doses, "
        f"{len(data.lab_days)} lab days"
    )
    widget = TimelineWidget()
    widget.resize(1400, 420)
    widget.set_data(data)
    widget.show()
    app.processEvents()
    viewport = widget.scroll_area.viewport()

    t0 = time.perf_counter()
    widget.fit()
    print(
        f"relayout at fit zoom: {(time.perf_counter() - t0) * 1000:.1f} ms; "
        f"{len(widget.canvas.items)} items"
    )
    fit_view = QRect(0, 0, viewport.width(), widget.canvas.height())
    fit = report("paint, whole treatment (viewport)", paint_ms(widget, fit_view))

    t0 = time.perf_counter()
    widget.set_pixels_per_day(widget.max_pixels_per_day())
    print(
        f"relayout at day zoom: {(time.perf_counter() - t0) * 1000:.1f} ms; "
        f"{widget.canvas.width()} px wide"
    )
    middle = widget.canvas.width() // 2
    day_view = QRect(middle, 0, viewport.width(), widget.canvas.height())
    day = report("paint, day zoom (viewport in the middle)", paint_ms(widget, day_view))
    print(f"ratio whole/day: {fit / day:.1f}; 60 fps budget is 16.7 ms per frame")
    widget.close()
    widget.deleteLater()
    app.processEvents()


if __name__ == "__main__":
    main()
