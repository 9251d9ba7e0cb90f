"""The patient list model, its filter proxy and the view: lazy rows, accents, flags in words."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from PySide6.QtCore import QLocale, QModelIndex, Qt
from pytestqt.qtbot import QtBot

from clinic_app.core.records import PatientStatus
from clinic_app.gui.patient_list import (
    COL_CYCLE,
    COL_DOB,
    COL_FLAGS,
    COL_NAME,
    FETCH_CHUNK,
    PatientFilterProxy,
    PatientListModel,
    PatientListView,
    fold,
)
from clinic_app.services.patient_state import PatientRow

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")

BASE = PatientRow(
    patient_id=1,
    mrn="MRN-00001",
    family_name="Smith",
    given_name="John",
    date_of_birth=date(1950, 1, 1),
    protocol_key="dextr",
    protocol_name="DexTR",
    phase="induction",
    status=PatientStatus.ACTIVE,
    cycle=2,
    day=15,
    dose_level=None,
    severe_toxicity=False,
    dlt_review_pending=False,
    bsa_recheck=False,
    overdue_labs=False,
)


def many(n: int) -> list[PatientRow]:
    rows = [
        replace(BASE, patient_id=i + 1, mrn=f"MRN-{i + 1:05d}", family_name=f"Family{i:05d}")
        for i in range(n)
    ]
    # The one with diacritics sits far past the first chunk.
    rows[n - 3] = replace(rows[n - 3], family_name="Dvořák", given_name="Antonín")
    rows[n - 2] = replace(rows[n - 2], family_name="Παπαδόπουλος", given_name="Γιώργος")
    return rows


def test_model_passes_qtmodeltester(qtmodeltester: object) -> None:
    model = PatientListModel()
    model.set_rows(many(450))
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    proxy = PatientFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_filter_text("dvorak")
    qtmodeltester.check(proxy)  # type: ignore[attr-defined]


def test_rows_arrive_in_chunks() -> None:
    model = PatientListModel()
    model.set_rows(many(450))
    assert model.rowCount() == FETCH_CHUNK  # 200 of 450 at first
    assert model.canFetchMore(QModelIndex())
    model.fetchMore(QModelIndex())
    assert model.rowCount() == 2 * FETCH_CHUNK  # 400
    model.fetchMore(QModelIndex())
    assert model.rowCount() == 450  # the last 50
    assert not model.canFetchMore(QModelIndex())


def test_filter_ignores_case_and_accents_and_reaches_unloaded_rows() -> None:
    model = PatientListModel()
    model.set_rows(many(450))
    proxy = PatientFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_filter_text("DVORAK anton")  # every word must match, in any order
    assert proxy.rowCount() == 1
    assert proxy.index(0, COL_NAME).data() == "Dvořák, Antonín"
    proxy.set_filter_text("γιωργος")  # Greek, accent-free lower case
    assert proxy.rowCount() == 1
    proxy.set_filter_text("mrn-0004")  # MRN-00040..MRN-00049 (MRN-00400 reads "mrn-0040...")
    assert proxy.rowCount() == 10
    proxy.set_filter_text("")
    assert proxy.rowCount() == 450


def test_fold() -> None:
    assert fold("Nováková") == "novakova"
    assert fold("ÅSTRÖM") == "astrom"


def test_flags_are_words_with_an_icon(qapp: object) -> None:
    model = PatientListModel()
    flagged = replace(BASE, severe_toxicity=True, overdue_labs=True, notes=("ANC 0.4 on C2D8",))
    model.set_rows([BASE, flagged])
    assert model.index(0, COL_FLAGS).data() == ""
    text = model.index(1, COL_FLAGS).data()
    # Short words after the warning icon, so two flags read in full at 1366 px
    assert text == "G≥3; labs overdue"
    assert not model.index(1, COL_FLAGS).data(Qt.ItemDataRole.DecorationRole).isNull()
    # The tooltip has the words in full (the column may cut them) and the details.
    tip = model.index(1, COL_FLAGS).data(Qt.ItemDataRole.ToolTipRole)
    assert tip == "grade ≥3 toxicity\nlabs overdue\nANC 0.4 on C2D8"
    assert model.index(1, COL_CYCLE).data() == "C2 D15"


def test_sorting_uses_every_row() -> None:
    model = PatientListModel()
    rows = many(450)
    rows[449] = replace(rows[449], family_name="Aaron")  # last in list order, first by name
    model.set_rows(rows)
    proxy = PatientFilterProxy()
    proxy.setSourceModel(model)
    proxy.sort(COL_NAME, Qt.SortOrder.AscendingOrder)
    assert proxy.rowCount() == 450
    assert proxy.index(0, COL_NAME).data() == "Aaron, John"


def test_born_reads_as_the_chart_writes_it_and_sorts_by_date() -> None:
    # As words, "5 Jan 1990" sorts before "19 Dec 1950" ("1" < "5") and "19 Dec 1950" after
    # "1 Mar 1990"; by date the order is 19 Dec 1950, 1 Mar 1990, 5 Jan 1991.
    model = PatientListModel()
    model.set_rows(
        [
            replace(BASE, patient_id=1, mrn="A", date_of_birth=date(1991, 1, 5)),
            replace(BASE, patient_id=2, mrn="B", date_of_birth=date(1950, 12, 19)),
            replace(BASE, patient_id=3, mrn="C", date_of_birth=date(1990, 3, 1)),
        ]
    )
    proxy = PatientFilterProxy()
    proxy.setSourceModel(model)
    proxy.sort(COL_DOB, Qt.SortOrder.AscendingOrder)
    born = [proxy.index(row, COL_DOB).data() for row in range(3)]
    assert born == ["19 Dec 1950", "1 Mar 1990", "5 Jan 1991"]


def test_typing_in_find_chooses_nobody_and_enter_chooses_the_first_match(qtbot: QtBot) -> None:
    view = PatientListView()
    qtbot.addWidget(view)
    view.set_rows(many(450))
    assert view.count_label.text() == "450 patients"
    chosen: list[int] = []
    view.patientChosen.connect(chosen.append)
    qtbot.keyClicks(view.filter_edit, "dvorak")
    assert view.count_label.text() == "1 of 450"
    assert chosen == [] and view.current_patient_id() is None  # a filter is not a choice
    qtbot.keyClick(view.filter_edit, Qt.Key.Key_Return)
    assert chosen == [448]  # patient ids are 1-based: the 448th row is id 448


def test_find_accepts_the_name_as_the_list_shows_it() -> None:
    model = PatientListModel()
    model.set_rows(many(450))
    proxy = PatientFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_filter_text("Dvořák, Antonín")  # "Family, Given", copied from the Name column
    assert proxy.rowCount() == 1
    proxy.set_filter_text("dvorak,anton")
    assert proxy.rowCount() == 1


def test_names_sort_in_the_locales_alphabetical_order() -> None:
    names = ["Zelenka", "Ångström", "Öberg", "Adams", "Čapek", "Łukasiewicz", "Cook", "Lund"]
    rows = [replace(BASE, patient_id=i, family_name=n) for i, n in enumerate(names, 1)]

    def order(locale: str) -> list[str]:
        model = PatientListModel(locale=QLocale(locale))
        model.set_rows(rows)
        return [model.row_at(i).family_name for i in range(model.total)]

    # English readers file Å with A, Č with C, Ł with L, Ö with O.
    assert order("en_GB") == [
        "Adams", "Ångström", "Čapek", "Cook", "Łukasiewicz", "Lund", "Öberg", "Zelenka"
    ]  # fmt: skip
    # Swedish readers put Å and Ö after Z (the alphabet ends ... Z, Å, Ä, Ö).
    swedish = order("sv_SE")
    assert swedish[-2:] == ["Ångström", "Öberg"]
    # Sorting by the Name column keeps the same order.
    model = PatientListModel(locale=QLocale("en_GB"))
    model.set_rows(list(reversed(rows)))
    proxy = PatientFilterProxy()
    proxy.setSourceModel(model)
    proxy.sort(COL_NAME, Qt.SortOrder.AscendingOrder)
    assert [proxy.index(r, COL_NAME).data().split(",")[0] for r in range(3)] == [
        "Adams", "Ångström", "Čapek"
    ]  # fmt: skip


def test_select_patient_beyond_first_chunk(qtbot: QtBot) -> None:
    view = PatientListView()
    qtbot.addWidget(view)
    view.set_rows(many(450))
    assert view.select_patient(430)
    assert view.current_patient_id() == 430
    assert not view.select_patient(9999)


def test_upsert_updates_in_place_and_inserts_in_name_order(qtmodeltester: object) -> None:
    model = PatientListModel()
    rows = [replace(BASE, patient_id=i, family_name=name) for i, name in enumerate("ACE", 1)]
    model.set_rows(rows)
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    # a saved change to patient 2 ("C") replaces its row where it stands
    model.upsert(replace(rows[1], cycle=3, day=1))
    assert [model.row_at(i).family_name for i in range(3)] == ["A", "C", "E"]
    assert model.row_at(1).cycle == 3
    # a new patient "D" lands between "C" and "E", and is found by the filter key
    model.upsert(replace(BASE, patient_id=9, family_name="D", mrn="MRN-9"))
    assert [model.row_at(i).family_name for i in range(4)] == ["A", "C", "D", "E"]
    assert model.rowCount() == 4 and model.total == 4
    assert "mrn-9" in model.search_key(2)
    qtmodeltester.check(model)  # type: ignore[attr-defined]


def test_upsert_beyond_the_fetched_rows_waits_for_the_next_fetch() -> None:
    model = PatientListModel()
    model.set_rows(many(450))
    model.upsert(replace(BASE, patient_id=999, family_name="Family00400x"))
    assert model.total == 451
    assert model.rowCount() == FETCH_CHUNK  # not handed to the view yet
    model.fetch_all()
    at = model.source_row_of(999)
    assert at is not None and model.row_at(at - 1).family_name == "Family00400"


def test_an_unset_locale_still_sorts_like_a_reader() -> None:
    # The "C" locale would sort by code point (Å after Z); readers expect Å with A.
    names = ["Zelenka", "Åberg", "Adams"]
    model = PatientListModel(locale=QLocale("C"))
    model.set_rows([replace(BASE, patient_id=i, family_name=n) for i, n in enumerate(names, 1)])
    assert [model.row_at(i).family_name for i in range(3)] == ["Åberg", "Adams", "Zelenka"]
