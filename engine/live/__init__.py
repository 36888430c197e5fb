"""Live updates: changes are announced in the transaction that commits them and fanned out
to the owners' open event streams (GET /api/events)."""
