"""Speed measurements, side by side with keras-hub, in one process."""
