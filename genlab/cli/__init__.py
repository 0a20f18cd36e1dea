"""The typer commands: each parses options, calls one library function and prints."""
