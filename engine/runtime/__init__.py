"""One instance at a time: its state, the facts (events) and their hash chain, gates, deadlines
and pauses, and the shared ``transitions`` machine compiled from a definition that drives it."""
