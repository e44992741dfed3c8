"""Reminders: when they are due and under which key, what they say, the pass that plans them
into the outbox, and the dispatcher that delivers them exactly once."""
