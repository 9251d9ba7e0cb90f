"""3+3 designs for the engine tests. Core has no default design, so BPD's is read from
bpd.toml's [escalation] table, the way the app reads it."""

from __future__ import annotations

from functools import cache

from clinic_app.core.escalation import EscalationDesign
from clinic_app.core.protocol_loader import load_protocols


@cache
def bpd_design() -> EscalationDesign:
    """BPD's design as bpd.toml gives it: levels -1, 1-4, start 1, cohorts of 3, caps
    24 / 38 / 56."""
    design = load_protocols()["bpd"].escalation
    assert design is not None, "bpd.toml has no [escalation] table"
    return design
