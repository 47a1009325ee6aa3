"""Monitoring's read models (board, plan drafts) and the stream read on a held connection."""
