"""Investigator options as recorded: the one legacy decision kind is read through the
protocol file's ``legacy_kind``, so core names no option and no drug."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from clinic_app.core.decisions import Decision, DecisionKind
from clinic_app.core.errors import DomainError, ProtocolError
from clinic_app.core.options import decided_options, decision_option
from clinic_app.core.protocol_loader import load_protocol, load_protocols, protocols_dir

PROTOCOLS = load_protocols()
OLD = Decision(7, DecisionKind.LEGACY_OPTION, "Dr B", date(2023, 11, 19), {"cycle": 6})


def test_an_old_decision_is_the_option_the_file_names_for_it() -> None:
    bpd = PROTOCOLS["bpd"]
    # bpd.toml: the dexamethasone 20 mg option, from cycle 7, carries legacy_kind
    [option] = [o for o in bpd.options if o.legacy_kind is not None]
    assert (option.key, option.drug, str(option.dose), option.from_cycle) == (
        "dexamethasone_20",
        "dexamethasone",
        "20",
        7,
    )
    assert decision_option(bpd, OLD) == option
    assert decided_options(bpd, [OLD]) == {"dexamethasone_20": OLD}


def test_an_old_decision_on_a_protocol_naming_no_option_for_it_is_said() -> None:
    bpd = PROTOCOLS["bpd"]
    without = replace(bpd, options=tuple(replace(o, legacy_kind=None) for o in bpd.options))
    with pytest.raises(DomainError, match="names no option for it"):
        decision_option(without, OLD)


def test_a_decision_of_another_kind_elects_nothing() -> None:
    phase = replace(OLD, kind=DecisionKind.PHASE)
    assert decision_option(PROTOCOLS["bpd"], phase) is None


def test_the_loader_refuses_an_unknown_legacy_kind(tmp_path: Path) -> None:
    source = protocols_dir() / "bpd.toml"
    text = source.read_text(encoding="utf-8")
    old = 'legacy_kind = "bpd_dex_20"'
    assert old in text
    path = tmp_path / "bpd.toml"
    path.write_text(text.replace(old, 'legacy_kind = "dex_low"'), encoding="utf-8")
    with pytest.raises(ProtocolError) as caught:
        load_protocol(path)
    assert caught.value.key == "options[0].legacy_kind"
    assert "is no older decision kind" in caught.value.problem
