"""Agent-side helpers: reading what the model wrote, shaping what it reads."""
