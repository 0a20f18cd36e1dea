"""What training and evaluation both stand on: the digits, devices, the checkpoint format, random streams."""
