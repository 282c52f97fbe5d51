"""Demo data for `make run`: Clermont and Groveland, Florida."""
