"""Every write to the labeling domain goes through a function in this package."""
