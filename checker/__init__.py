"""asynckata's checker: runs the katas' tests against a target and reports progress."""
