"""services.response_entry on a real record: the plasmacytoma shrinkage as typed, older yes/no
answers, and "not evaluable" with its reason (issue 13, rules §4)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from clinic_app.core.records import ResponseAssessment
from clinic_app.core.response import ResponseCategory
from clinic_app.services.response_entry import ResponseForm, check_response, save_response
from clinic_app.storage.database import Record

from .helpers import cycle, enrol, patient

END_1 = date(2024, 1, 29)


def plasmacytoma_patient(record: Record) -> int:
    pid = patient(record, "P-1", "Plasma")
    eid = enrol(record, pid, "dextr", date(2023, 12, 28))
    cycle(record, eid, 1, "induction", date(2024, 1, 2), date(2024, 1, 2))
    # baseline 3.0 g/dL with a soft-tissue plasmacytoma
    record.repos.responses.add(
        pid,
        ResponseAssessment(
            date(2024, 1, 1), serum_m_protein_g_dl=Decimal("3.0"), soft_tissue_plasmacytoma=True
        ),
    )
    return pid


def form(shrinkage: str, **values: object) -> ResponseForm:
    # 1.5 g/dL: (3.0 - 1.5) / 3.0 = 50 % below baseline, PR by M-protein
    return ResponseForm(
        END_1,
        texts={"serum_m_protein_g_dl": "1.5", "plasmacytoma_shrinkage_pct": shrinkage},
        soft_tissue_plasmacytoma=True,
        end_of_cycle=1,
        **values,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("shrinkage", "category"),
    [
        ("50", ResponseCategory.PR),  # IMWG 2016: >= 50 % smaller -> PR
        ("25,5", ResponseCategory.MR),  # a decimal comma is read: 25.5 % -> MR (25-49 %)
        ("-10", ResponseCategory.SD),  # 10 % larger: neither PR nor MR
    ],
)
def test_typed_shrinkage_decides(
    record: Record, shrinkage: str, category: ResponseCategory
) -> None:
    pid = plasmacytoma_patient(record)
    check = check_response(record, pid, form(shrinkage), END_1)
    assert check.ok and check.result is not None
    assert check.result.category is category


def test_more_than_100_pct_smaller_is_refused_at_the_field(record: Record) -> None:
    pid = plasmacytoma_patient(record)
    check = check_response(record, pid, form("101"), END_1)
    assert not check.ok
    assert "more than 100 % smaller" in check.errors["plasmacytoma_shrinkage_pct"]


def test_a_measurement_replaces_an_older_yes_no_and_none_keeps_it(record: Record) -> None:
    pid = plasmacytoma_patient(record)
    kept = check_response(record, pid, form("", plasmacytoma_shrunk_50pct=True), END_1)
    assert kept.assessment is not None and kept.assessment.plasmacytoma_shrunk_50pct is True
    assert kept.result is not None and kept.result.category is ResponseCategory.PR
    replaced = check_response(record, pid, form("40", plasmacytoma_shrunk_50pct=True), END_1)
    assert replaced.assessment is not None
    assert replaced.assessment.plasmacytoma_shrunk_50pct is None
    assert replaced.assessment.plasmacytoma_shrinkage_pct == Decimal(40)
    saved = record.repos.responses.get(save_response(record, pid, replaced)).value
    assert (saved.plasmacytoma_shrinkage_pct, saved.plasmacytoma_shrunk_50pct) == (
        Decimal(40),
        None,
    )


def test_nothing_measured_message_names_the_missing_study(record: Record) -> None:
    pid = plasmacytoma_patient(record)
    check = check_response(
        record,
        pid,
        ResponseForm(END_1, texts={"marrow_plasma_cells_pct": "2"}, end_of_cycle=1),
        END_1,
    )
    assert check.result is not None and check.result.category is ResponseCategory.NE
    assert check.message.splitlines()[:2] == [
        "Not evaluable: nothing measured.",
        "Limited by: not evaluable: serum M-protein not measured",
    ]
