"""AE term catalogue: loading, search, grade validation and the DLT-named terms."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinic_app.core.ae_terms import (
    DltCategory,
    ae_term,
    dlt_categories,
    load_ae_terms,
    search,
)
from clinic_app.core.errors import DomainError, ProtocolError


def test_loads_the_bundled_catalogue() -> None:
    terms = load_ae_terms()
    assert len(terms) >= 14
    for term in terms:
        assert term.grades, term.name
        assert set(term.grades) <= {1, 2, 3, 4, 5}
        assert all(text.strip() for text in term.grades.values())


# Rules §3 and §5: the terms the BPD DLT rules name must be offered.
@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("Nausea", DltCategory.NAUSEA_VOMITING_DIARRHOEA),
        ("Vomiting", DltCategory.NAUSEA_VOMITING_DIARRHOEA),
        ("Diarrhea", DltCategory.NAUSEA_VOMITING_DIARRHOEA),
        ("Peripheral sensory neuropathy", DltCategory.NEUROPATHY),
        ("Thromboembolic event", DltCategory.VENOUS_THROMBOEMBOLISM),
        ("Rash maculo-papular", DltCategory.RASH),
        ("Febrile neutropenia", DltCategory.FEBRILE_NEUTROPENIA),
        ("Neutrophil count decreased", DltCategory.NEUTROPENIA),
        ("Platelet count decreased", DltCategory.THROMBOCYTOPENIA),
    ],
)
def test_every_dlt_named_term_is_present(name: str, category: DltCategory) -> None:
    assert ae_term(name).category is category


@pytest.mark.parametrize(
    "name",
    [
        "Fatigue",
        "Constipation",
        "Peripheral motor neuropathy",
        "Lung infection",
        "Sepsis",
        "Fever",
        "Epistaxis",
    ],
)
def test_other_required_terms_are_present(name: str) -> None:
    assert ae_term(name).name == name


def test_haematological_and_thrombotic_flags() -> None:
    assert ae_term("Febrile neutropenia").haematological
    assert ae_term("Anemia").haematological
    assert not ae_term("Nausea").haematological
    assert ae_term("Thromboembolic event").thrombotic
    assert ae_term("Arterial thromboembolism").thrombotic
    assert not ae_term("Arterial thromboembolism").haematological
    assert not ae_term("Epistaxis").thrombotic


def test_grades_not_defined_by_ctcae_are_refused() -> None:
    nausea = ae_term("nausea")
    assert nausea.grades_defined == (1, 2, 3)  # CTCAE v5.0: no grade 4 or 5 for nausea
    with pytest.raises(DomainError, match="Nausea has no grade 4") as error:
        nausea.validate_grade(4)
    assert error.value.field == "grade"
    assert ae_term("Fatigue").grades_defined == (1, 2, 3)
    assert ae_term("Rash maculo-papular").grades_defined == (1, 2, 3)
    # Febrile neutropenia starts at grade 3; lung infection at grade 2.
    assert ae_term("Febrile neutropenia").grades_defined == (3, 4, 5)
    assert ae_term("Lung infection").grades_defined == (2, 3, 4, 5)
    assert ae_term("Vomiting").validate_grade(5) == 5
    assert "38.3" in ae_term("Febrile neutropenia").describe(3)


def test_search_is_case_insensitive_over_names_and_synonyms() -> None:
    assert [t.name for t in search("NAUSEA")] == ["Nausea"]
    assert [t.name for t in search("dvt")] == ["Thromboembolic event"]
    assert "Diarrhea" in [t.name for t in search("diarrhoea")]
    neuropathies = [t.name for t in search("neuropathy")]
    assert neuropathies == ["Peripheral motor neuropathy", "Peripheral sensory neuropathy"]
    rashes = {t.name for t in search("rash")}
    assert {"Rash maculo-papular", "Erythema multiforme", "Stevens-Johnson syndrome"} <= rashes
    # A name that starts with the text comes before one that only contains it.
    assert search("rash")[0].name == "Rash maculo-papular"
    assert search("xyzzy") == ()
    assert len(search("  ")) == len(load_ae_terms())


def test_lab_terms_point_to_the_lab_catalogue() -> None:
    assert ae_term("Neutrophil count decreased").lab_test == "anc"
    assert ae_term("Nausea").lab_test is None


def test_unknown_term() -> None:
    with pytest.raises(DomainError, match="'Headache xyz'"):
        ae_term("Headache xyz")


def test_dlt_category_mapping_for_the_dlt_engine() -> None:
    mapping = dlt_categories()
    assert mapping["Thromboembolic event"] == "venous_thromboembolism"
    assert mapping["Vomiting"] == "nausea_vomiting_diarrhoea"
    assert len(mapping) == len(load_ae_terms())


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "terms.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_malformed_catalogue_is_refused_with_file_key_and_problem(tmp_path: Path) -> None:
    good = '[[term]]\nname = "Nausea"\nsoc = "GI"\ndlt_category = "nausea_vomiting_diarrhoea"\n'
    path = _write(tmp_path, good + '[term.grades]\n1 = "mild"\n6 = "worse"\n')
    with pytest.raises(ProtocolError) as error:
        load_ae_terms(path)
    assert (error.value.source, error.value.key) == (str(path), "term[Nausea].grades.6")

    path = _write(
        tmp_path, good.replace("nausea_vomiting_diarrhoea", "gut") + '[term.grades]\n1 = "x"\n'
    )
    with pytest.raises(ProtocolError, match="dlt_category"):
        load_ae_terms(path)

    twice = good + '[term.grades]\n1 = "x"\n'
    with pytest.raises(ProtocolError, match="duplicate"):
        load_ae_terms(_write(tmp_path, twice + twice))

    assert [t.name for t in load_ae_terms(_write(tmp_path, twice))] == ["Nausea"]


# Issue 13: a term takes a specific DLT clause (and its exceptions) only when the clause is
# about that kind of event. Severe cutaneous reactions are not "rash"; motor weakness is not
# "neuropathy with pain"; only venous events are VTE and only arterial ones are "thrombotic".
@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("Stevens-Johnson syndrome", DltCategory.NON_HAEMATOLOGICAL),
        ("Toxic epidermal necrolysis", DltCategory.NON_HAEMATOLOGICAL),
        ("Erythema multiforme", DltCategory.NON_HAEMATOLOGICAL),
        ("Peripheral motor neuropathy", DltCategory.NON_HAEMATOLOGICAL),
        ("Arterial thromboembolism", DltCategory.THROMBOTIC),
        ("Constipation", DltCategory.NON_HAEMATOLOGICAL),
        ("Fever", DltCategory.NON_HAEMATOLOGICAL),
    ],
)
def test_terms_take_only_the_clauses_that_are_about_them(name: str, category: DltCategory) -> None:
    assert ae_term(name).category is category


def test_only_ordinary_rash_takes_the_rash_clauses() -> None:
    rash = {t.name for t in load_ae_terms() if t.category is DltCategory.RASH}
    assert rash == {"Rash maculo-papular"}
