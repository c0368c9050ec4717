"""The weekly report: study time against the week before, goals, streaks, recall."""
