"""The genlab cockpit: a Textual app over run directories. It imports genlab, never the reverse."""
