"""The demo: a small upstream app and a launcher for `make demo`."""
