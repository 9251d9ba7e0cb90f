"""Taking patients out on a laptop and bringing them back (issue 19).

- :func:`check_out` copies some patients' whole charts into a new laptop record and marks
  them out in the clinic's record, which then refuses changes to them (``guard``).
- :func:`check_in` brings every change made on the laptop back in one clinic transaction,
  with its audit entries, new rows under fresh clinic ids.
- :func:`cancel_checkout` (an administrator, for a lost laptop) makes the patients writable
  again; a later check-in of that laptop keeps its changes as a reviewable set instead.
"""

from __future__ import annotations

from clinic_app.storage.checkout.back import CheckinReport, check_in
from clinic_app.storage.checkout.cancel import cancel_checkout, pending_reviews
from clinic_app.storage.checkout.guard import (
    CheckedOut,
    CheckedOutError,
    checked_out_patients,
    describe,
)
from clinic_app.storage.checkout.out import CheckoutRefused, CheckoutReport, check_out

__all__ = [
    "CheckedOut",
    "CheckedOutError",
    "CheckinReport",
    "CheckoutRefused",
    "CheckoutReport",
    "cancel_checkout",
    "check_in",
    "check_out",
    "checked_out_patients",
    "describe",
    "pending_reviews",
]
