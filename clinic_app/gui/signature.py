"""Signing an investigator decision by re-entering the password.

``sign_then_save`` is what a decision dialog calls instead of saving directly: in open mode (no
accounts) it saves at once; otherwise it opens a :class:`SignatureDialog` showing who signs and
what the signature means, and once the password is right it saves the decision and the
signature in one transaction (both or neither).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from clinic_app.gui.sign_in import SignInDialog
from clinic_app.services.context import SignaturePolicy
from clinic_app.storage.database import Record
from clinic_app.storage.signatures import Signer


class SignatureDialog(SignInDialog):
    """The signed-in user re-enters their password to sign ``meaning``."""

    signed = Signal(object)
    """The :class:`Signer` once the password was right."""

    def __init__(self, record: Record, meaning: str, parent: QWidget | None = None) -> None:
        me = record.repos.users.current()
        name = me.full_name if me is not None else (record.app_user or "")
        super().__init__(
            record,
            parent,
            fixed_user=record.app_user or "",
            title=f"Sign: {meaning} — clinic-app",
            intro=(
                f"Signing as {name}. Your signature means: “{meaning}”. It is kept with the "
                "decision, with your printed name and the date and time (UTC). Enter your "
                "password to sign."
            ),
        )
        self.meaning = meaning
        self.ok_button.setText("&Sign")
        self.accepted.connect(self._emit)

    def _emit(self) -> None:
        if self.user is not None:
            self.signed.emit(Signer(self.user, self.meaning))


def save_signed(
    record: Record,
    signer: Signer | None,
    table: str,
    save: Callable[[], int],
    reason: str,
) -> int:
    """Run ``save`` (returning the new row id) and sign that row, in one transaction (the
    audit trail then gives ``reason`` for both). Unsigned (open mode): ``save`` as it is."""
    if signer is None:
        return save()
    with record.transaction(reason=reason):
        row_id = save()
        if signer is not None:
            record.repos.signatures.sign(signer, table, row_id)
    return row_id


def sign_then_save(
    parent: QWidget,
    record: Record,
    meaning: str,
    save: Callable[[Signer | None], None],
) -> SignatureDialog | None:
    """Call ``save(signer)`` once signed (``save(None)`` at once in open mode)."""
    if not SignaturePolicy(record).required:  # the context's policy: open mode signs nothing
        save(None)
        return None
    dialog = SignatureDialog(record, meaning, parent)
    dialog.signed.connect(save)
    dialog.open()
    return dialog
