"""The careplan service: care planning and implementation (stages 3 and 4)."""
