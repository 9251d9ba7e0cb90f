"""Data-entry dialogs built from the Designer forms in ui/."""
