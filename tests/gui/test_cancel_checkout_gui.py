"""Cancel a check-out (lost laptop), from the File menu (issue 19): an administrator only, a
reason needed, and afterwards the clinic can change the chart again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMainWindow
from pytestqt.qtbot import QtBot

from clinic_app.gui.cancel_checkout_dialog import CancelCheckoutDialog
from clinic_app.gui.checkout_actions import CheckoutActions
from clinic_app.storage.checkout import (
    CheckedOutError,
    cancel_checkout,
    check_out,
    checked_out_patients,
)
from clinic_app.storage.database import Record, open_database

from ..services.helpers import lab
from ..storage.test_checkout import ROAD
from ..storage.test_copy_record import ADMIN, PASSWORD, _fill
from .fit_check import fit_problems

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")


def _sign_in(record: Record, name: str) -> None:
    record.set_user(record.repos.users.authenticate(name, PASSWORD).username)


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[Record]:
    """Two patients out on "Laptop 3"; the administrator signed in."""
    rec = open_database(tmp_path / "clinic.sqlite3")
    _fill(rec)
    mrns = [str(r[0]) for r in rec.sql.execute("SELECT mrn FROM patients ORDER BY id LIMIT 2")]
    check_out(rec, tmp_path / "laptop.sqlite3", mrns, "Laptop 3")
    _sign_in(rec, ADMIN)
    try:
        yield rec
    finally:
        rec.close()


class _Window(QMainWindow):
    def __init__(self, record: Record) -> None:
        super().__init__()
        self.record = record


def _actions(qtbot: QtBot, record: Record) -> CheckoutActions:
    window = _Window(record)
    qtbot.addWidget(window)
    actions = CheckoutActions(window, window.menuBar().addMenu("&File"))
    actions.update_enabled()
    return actions


def test_an_administrator_cancels_with_a_reason_and_the_chart_is_writable(
    qtbot: QtBot, clinic: Record
) -> None:
    out = checked_out_patients(clinic)
    first = min(out)
    pid, mrn = first, out[first].mrn
    _sign_in(clinic, "ivan")
    with pytest.raises(CheckedOutError, match="Laptop 3"):
        lab(clinic, pid, "anc", "1.5", "10^9/L", ROAD)
    _sign_in(clinic, ADMIN)

    actions = _actions(qtbot, clinic)
    assert actions.cancel_action.isEnabled()
    actions.cancel_action.trigger()
    dialog = actions.dialog
    assert isinstance(dialog, CancelCheckoutDialog) and dialog.isVisible()
    assert dialog.patients.count() == 2
    assert "Laptop 3" in dialog.patients.item(0).text()
    qtbot.waitExposed(dialog)
    assert fit_problems(dialog) == []
    dialog.confirm = False  # the "are you sure" box is answered Yes
    dialog.tick([mrn])
    assert not dialog.ok_button.isEnabled()  # no reason yet
    qtbot.keyClicks(dialog.reason, "   ")
    assert not dialog.ok_button.isEnabled()  # blanks are no reason
    qtbot.keyClicks(dialog.reason, "laptop lost on a home visit")
    assert dialog.ok_button.isEnabled()
    dialog.ok_button.click()
    assert not dialog.isVisible()
    assert "was cancelled" in dialog.report and "kept for review" in dialog.report
    assert "Laptop 3" in actions.last_report

    assert sorted(checked_out_patients(clinic)) == sorted(set(out) - {pid})  # the other stays
    _sign_in(clinic, "ivan")
    lab(clinic, pid, "anc", "1.5", "10^9/L", ROAD)  # the clinic may change the chart again
    reason = clinic.sql.execute(
        "SELECT cancel_reason FROM checkouts WHERE patient_id = ? AND status = 'cancelled'",
        [pid],
    ).fetchone()[0]
    assert reason == "laptop lost on a home visit"


def test_not_an_administrator_the_item_is_greyed_with_the_reason(
    qtbot: QtBot, clinic: Record
) -> None:
    _sign_in(clinic, "ivan")
    actions = _actions(qtbot, clinic)
    assert not actions.cancel_action.isEnabled()
    assert actions.cancel_action.toolTip().startswith("Only an administrator may cancel")
    assert actions.out_action.isEnabled()  # an investigator may still check out and in
    # Storage refuses too, should the dialog be reached some other way.
    dialog = CancelCheckoutDialog(clinic)
    qtbot.addWidget(dialog)
    dialog.confirm = False
    dialog.tick([dialog.patients.item(0).data(0x0100)])
    dialog.reason.setText("laptop lost")
    dialog.ok_button.click()
    assert dialog.result() != dialog.DialogCode.Accepted
    assert "Only an administrator may cancel" in dialog.message.text()
    assert len(checked_out_patients(clinic)) == 2


def test_nothing_out_says_so(qtbot: QtBot, tmp_path: Path) -> None:
    with open_database(tmp_path / "empty.sqlite3") as rec:
        dialog = CancelCheckoutDialog(rec)
        qtbot.addWidget(dialog)
        assert dialog.patients.count() == 0
        assert "nothing to cancel" in dialog.message.text()
        assert not dialog.ok_button.isEnabled()


def test_a_refusal_part_way_keeps_what_was_cancelled_and_says_both(
    qtbot: QtBot, clinic: Record
) -> None:
    actions = _actions(qtbot, clinic)
    refreshed: list[bool] = []
    setattr(actions.window, "refresh", lambda: refreshed.append(True))  # noqa: B010
    dialog = actions.cancel()
    dialog.confirm = False
    first, second = (str(dialog.patients.item(i).data(0x0100)) for i in range(2))
    dialog.tick([first, second])
    dialog.reason.setText("laptop lost")
    cancel_checkout(clinic, second, "cancelled at another desk")  # meanwhile
    dialog.ok_button.click()
    assert dialog.isVisible()
    text = dialog.message.text()
    assert f"The check-out of {first} to the laptop Laptop 3 was cancelled" in text
    assert f"The patient {second} is not checked out" in text
    assert dialog.patients.count() == 1 and dialog.patients.item(0).data(0x0100) == second
    assert checked_out_patients(clinic) == {} and refreshed == [True]
    dialog.reject()


def test_the_file_menu_opens_the_review_of_laptop_changes(qtbot: QtBot, clinic: Record) -> None:
    from clinic_app.gui.review_dialog import ReviewDialog

    actions = _actions(qtbot, clinic)
    menu = actions.window.menuBar().actions()[0].menu()
    assert "&Review laptop changes…" in [a.text() for a in menu.actions()]
    actions.review_action.trigger()
    dialog = actions.review_dialog
    assert isinstance(dialog, ReviewDialog) and dialog.isVisible()
    qtbot.addWidget(dialog)
    dialog.reject()
