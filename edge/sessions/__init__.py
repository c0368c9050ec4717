"""Study sessions: their lifecycle, the topics tracked in them, and idle expiry."""
