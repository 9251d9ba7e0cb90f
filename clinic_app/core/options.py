"""Investigator options as recorded: which of a protocol's ``[[options]]`` were elected.

One encoding (issue 17): a ``Decision`` of kind ``option`` with ``{"option": key}`` in its
payload, and a cycle's ``elected_options`` keyed by option key (the value is the dose it
gives, e.g. ``"20 mg"``). Records written before options were data are read, never rewritten:
a decision of the legacy kind (``DecisionKind.LEGACY_OPTION``) is the option whose
``legacy_kind`` in the protocol file names it, and a cycle entry keyed by the option's drug
with the option's dose (e.g. ``{"dexamethasone": "20 mg"}``) is that option.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from clinic_app.core.decisions import Decision, DecisionKind
from clinic_app.core.errors import DomainError
from clinic_app.core.ismp import format_quantity
from clinic_app.core.protocol import Protocol, ProtocolOption


def option_payload(option: ProtocolOption, cycle: int, from_cycle: int) -> dict[str, object]:
    """The payload of the ``option`` decision electing ``option`` at the end of ``cycle``."""
    return {"option": option.key, "cycle": cycle, "from_cycle": from_cycle}


def option_value(protocol: Protocol, option: ProtocolOption) -> str:
    """What a cycle's ``elected_options`` stores for ``option``: the dose it gives."""
    drug = protocol.drugs.get(option.drug)
    unit = drug.basis.unit if drug is not None else "mg"
    return format_quantity(option.dose, unit)


def decision_option(protocol: Protocol, decision: Decision) -> ProtocolOption | None:
    """The protocol option ``decision`` elected; None for a decision that elects none.

    Raises DomainError when the decision names an option the protocol does not have, so an
    election is never silently dropped.
    """
    if decision.kind is DecisionKind.OPTION or (
        # cycle start wrote other options as kind "other" before the "option" kind existed
        decision.kind is DecisionKind.OTHER and "option" in decision.payload
    ):
        key = decision.payload.get("option")
    elif decision.kind is DecisionKind.LEGACY_OPTION:
        # The protocol file says which of its options the older kind elected.
        for option in protocol.options:
            if option.legacy_kind == decision.kind.value:
                return option
        raise DomainError(
            f"The decision of {decision.decided_on} by {decision.decided_by} elected an "
            f"investigator option in an older form, and {protocol.name} names no option for it.",
            field="options",
        )
    else:
        return None
    for option in protocol.options:
        if option.key == key:
            return option
    raise DomainError(
        f"The decision of {decision.decided_on} by {decision.decided_by} elects {key!r}, which "
        f"is not an option of {protocol.name}.",
        field="options",
    )


def decided_options(protocol: Protocol, decisions: Iterable[Decision]) -> dict[str, Decision]:
    """Option key -> the first decision electing it."""
    found: dict[str, Decision] = {}
    for decision in decisions:
        option = decision_option(protocol, decision)
        if option is not None:
            found.setdefault(option.key, decision)
    return found


def cycle_option_keys(protocol: Protocol, elected: Mapping[str, str]) -> frozenset[str]:
    """The option keys a cycle's ``elected_options`` holds (older drug-keyed entries too).

    Raises DomainError for an entry that is no option of the protocol.
    """
    keys: set[str] = set()
    for key, value in elected.items():
        match = [
            o
            for o in protocol.options
            if o.key == key
            or (o.drug == key and str(value).strip() in (option_value(protocol, o), str(o.dose)))
        ]
        if not match:
            raise DomainError(
                f"The cycle elects {key} = {value!r}, which is not an option of {protocol.name}.",
                field="elected_options",
            )
        keys.update(o.key for o in match)
    return frozenset(keys)


def elected_entries(protocol: Protocol, keys: Iterable[str]) -> dict[str, str]:
    """A cycle's ``elected_options`` for the option ``keys`` (in the protocol's order)."""
    wanted = set(keys)
    return {o.key: option_value(protocol, o) for o in protocol.options if o.key in wanted}


def elected_so_far(
    protocol: Protocol, decisions: Iterable[Decision], cycle_options: Sequence[Mapping[str, str]]
) -> frozenset[str]:
    """Every option elected by a decision or applied to a cycle (an election carries on)."""
    keys = set(decided_options(protocol, decisions))
    for entry in cycle_options:
        keys |= cycle_option_keys(protocol, entry)
    return frozenset(keys)
