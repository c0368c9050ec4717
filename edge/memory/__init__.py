"""Study memory: review cards made from the pages a student read, scheduled with FSRS."""
