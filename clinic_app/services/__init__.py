"""Services: computed state and record-wide jobs over storage and core (no Qt, no PDF)."""
