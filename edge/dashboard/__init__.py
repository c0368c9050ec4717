"""The student's dashboard: what it shows (queries and wire models) and its static page."""
