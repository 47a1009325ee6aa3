"""Careplan's tables: facts learned from other services, the board and the inbox."""
