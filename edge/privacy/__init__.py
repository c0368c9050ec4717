"""The student's control over their data: pause, export, move to a new computer."""
