"""Reference cycles are freed on the GUI thread, never on a worker thread that allocates."""

from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from clinic_app.gui.collector import GuiThreadCollector, install_collector
from clinic_app.gui.patient_list import PatientFilterProxy, PatientListModel
from tests.gui.test_patient_list import many


class Cycle:
    """Garbage only the cycle collector can free: it refers to itself."""

    def __init__(self) -> None:
        self.me = self


def freed_in(thread_names: list[str]) -> Cycle:
    cycle = Cycle()
    weakref.finalize(cycle, lambda: thread_names.append(threading.current_thread().name))
    return cycle


def test_a_worker_that_allocates_never_frees_the_gui_threads_cycles(
    qapp: QApplication, qtbot: QtBot
) -> None:
    collector = install_collector(qapp)
    assert isinstance(collector, GuiThreadCollector)
    assert not gc.isenabled()
    gc.collect()
    freed: list[str] = []
    freed_in(freed)  # unreachable at once, kept alive by its own reference

    def allocate() -> None:
        # Well past every threshold (700 new containers trigger a collection by default).
        kept = [[number] for number in range(50 * collector.thresholds[0])]
        assert kept

    worker = threading.Thread(target=allocate, name="worker")
    worker.start()
    worker.join()
    assert freed == []  # Python's own collector would have freed it on "worker"
    qtbot.waitUntil(lambda: bool(freed), timeout=3000)
    assert freed == [threading.main_thread().name]


def test_a_widget_in_a_cycle_is_destroyed_on_the_gui_thread(
    qapp: QApplication, qtbot: QtBot
) -> None:
    install_collector(qapp)
    gc.collect()
    freed: list[str] = []
    widget = QWidget()
    widget.cycle = freed_in(freed)  # type: ignore[attr-defined]
    widget.cycle.widget = widget  # type: ignore[attr-defined]
    destroyed: list[str] = []
    widget.destroyed.connect(lambda: destroyed.append(threading.current_thread().name))
    del widget
    worker = threading.Thread(target=lambda: [[n] for n in range(100_000)], name="worker")
    worker.start()
    worker.join()
    assert destroyed == []
    qtbot.waitUntil(lambda: bool(destroyed), timeout=3000)
    assert destroyed == [threading.main_thread().name]
    assert freed == [threading.main_thread().name]


def test_one_collector_for_the_application(qapp: QApplication) -> None:
    assert install_collector(qapp) is install_collector(qapp)
    assert len(qapp.findChildren(GuiThreadCollector)) == 1


def test_a_table_model_cleared_by_the_collector_answers_as_empty(qapp: QApplication) -> None:
    # The collector frees a closed window's cycle by first clearing each object's attributes;
    # Qt may still ask the model its size while taking the view apart.
    model = PatientListModel()
    model.set_rows(many(5))
    proxy = PatientFilterProxy()
    proxy.setSourceModel(model)
    assert (model.rowCount(), model.columnCount(), proxy.rowCount()) == (5, 8, 5)
    model.__dict__.clear()
    proxy.__dict__.clear()
    assert (model.rowCount(), model.columnCount()) == (0, 0)
    assert proxy.filterAcceptsRow(0, model.index(0, 0).parent())
