"""Python's cycle collector, run on the GUI thread only.

Python collects reference cycles in whichever thread happens to allocate when a threshold is
crossed: the patient list's load, the daily backup or a batch of dosing cards on their worker
threads. A cycle that holds a widget (a dialog and a lambda connected to it, say) would then be
destroyed on that worker thread, which Qt does not allow: the app crashed so (a segmentation
fault while cards were being written). Here the automatic collector is off and a timer on the
GUI thread collects instead, so every Qt object dies on the thread it lives on.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 300


class GuiThreadCollector(QObject):
    """Owned by the application: while it lives, cycles are collected on its thread only."""

    def __init__(self, parent: QObject, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self.setObjectName("gui_thread_collector")
        self.thresholds = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setObjectName("cycle_collection")
        self.timer.timeout.connect(self.collect_due)
        self.timer.start(interval_ms)
        self.destroyed.connect(_enable_automatic)

    def collect_due(self) -> int:
        """The youngest generation every tick, the older ones once their counts pass Python's
        thresholds; returns the generation collected. A worker's burst of allocation, freed
        before the tick, leaves the young count low: the young generation is collected anyway,
        and costs little."""
        counts = gc.get_count()
        generation = next((g for g in (2, 1) if counts[g] > self.thresholds[g]), 0)
        gc.collect(generation)
        return generation


def _enable_automatic() -> None:
    gc.enable()


def install_collector(parent: QObject) -> GuiThreadCollector:
    """The collector on ``parent`` (the QApplication), created once."""
    existing = parent.findChild(GuiThreadCollector, "gui_thread_collector")
    if isinstance(existing, GuiThreadCollector):
        return existing
    return GuiThreadCollector(parent)
