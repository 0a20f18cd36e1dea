"""The cockpit's screens: the runs list, one run's dashboard, the new-run form, confirmations."""
