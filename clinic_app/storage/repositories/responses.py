"""Response assessments (the M-protein studies IMWG response is computed from)."""

from __future__ import annotations

from typing import Any

from clinic_app.core.records import Immunofixation, ResponseAssessment
from clinic_app.storage.repositories import _codec as c
from clinic_app.storage.repositories._base import Row, TableRepository


def _ife(value: Any) -> Immunofixation | None:
    return None if value is None else Immunofixation(value)


class ResponseRepository(TableRepository[ResponseAssessment]):
    table = "response_assessments"
    noun = "response assessment"

    def encode(self, value: ResponseAssessment) -> dict[str, Any]:
        return {
            "assessed_on": c.day(value.assessed_on),
            "serum_m_protein_g_dl": c.dec(value.serum_m_protein_g_dl, "serum_m_protein_g_dl"),
            "urine_m_protein_mg_24h": c.dec(value.urine_m_protein_mg_24h, "urine_m_protein_mg_24h"),
            "serum_ife": None if value.serum_ife is None else Immunofixation(value.serum_ife).value,
            "urine_ife": None if value.urine_ife is None else Immunofixation(value.urine_ife).value,
            "involved_flc_mg_l": c.dec(value.involved_flc_mg_l, "involved_flc_mg_l"),
            "uninvolved_flc_mg_l": c.dec(value.uninvolved_flc_mg_l, "uninvolved_flc_mg_l"),
            "marrow_plasma_cells_pct": c.dec(
                value.marrow_plasma_cells_pct, "marrow_plasma_cells_pct"
            ),
            "clonal_marrow_cells": c.flag(value.clonal_marrow_cells),
            "soft_tissue_plasmacytoma": c.flag(value.soft_tissue_plasmacytoma),
            "new_lesions": int(value.new_lesions),
            "end_of_cycle": value.end_of_cycle,
            "plasmacytoma_shrunk_50pct": c.flag(value.plasmacytoma_shrunk_50pct),
            "plasmacytoma_shrinkage_pct": c.dec(
                value.plasmacytoma_shrinkage_pct, "plasmacytoma_shrinkage_pct"
            ),
        }

    def decode(self, row: Row) -> ResponseAssessment:
        return ResponseAssessment(
            assessed_on=c.need_day(row["assessed_on"]),
            serum_m_protein_g_dl=c.to_dec(row["serum_m_protein_g_dl"]),
            urine_m_protein_mg_24h=c.to_dec(row["urine_m_protein_mg_24h"]),
            serum_ife=_ife(row["serum_ife"]),
            urine_ife=_ife(row["urine_ife"]),
            involved_flc_mg_l=c.to_dec(row["involved_flc_mg_l"]),
            uninvolved_flc_mg_l=c.to_dec(row["uninvolved_flc_mg_l"]),
            marrow_plasma_cells_pct=c.to_dec(row["marrow_plasma_cells_pct"]),
            clonal_marrow_cells=c.to_flag(row["clonal_marrow_cells"]),
            soft_tissue_plasmacytoma=c.to_flag(row["soft_tissue_plasmacytoma"]),
            new_lesions=bool(row["new_lesions"]),
            end_of_cycle=row["end_of_cycle"],
            id=int(row["id"]),
            plasmacytoma_shrunk_50pct=c.to_flag(row["plasmacytoma_shrunk_50pct"]),
            plasmacytoma_shrinkage_pct=c.to_dec(row["plasmacytoma_shrinkage_pct"]),
        )

    def add(
        self, patient_id: int, assessment: ResponseAssessment, *, reason: str | None = None
    ) -> int:
        return self._insert({"patient_id": patient_id, **self.encode(assessment)}, reason)

    def for_patient(self, patient_id: int) -> list[ResponseAssessment]:
        return self._live("patient_id = ?", [patient_id], "assessed_on, id")
