"""The run directory: every file's name and format, and the code that reads and writes them. Imports no torch."""
