"""The kinds of recorded clinical decision, alone: storage's permissions map each kind to who
may record it, and the app's start imports them without the decisions' records (issue 16).
"""

from __future__ import annotations

from enum import StrEnum


class DecisionKind(StrEnum):
    PHASE = "phase"
    OFF_STUDY = "off_study"
    OPTION = "option"
    """An investigator option of the protocol file elected: ``{"option": key}`` in the payload."""
    # The one legacy mapping: the only decision kind written before options were data (it
    # elected an option by its kind). Old records keep it and are read, never rewritten; the
    # protocol option whose ``legacy_kind`` names this value is the one it elected.
    LEGACY_OPTION = "bpd_dex_20"
    """An option elected before options were data; never written any more."""
    CONDITION_OVERRIDE = "condition_override"
    ESCALATION = "escalation"
    OTHER = "other"
