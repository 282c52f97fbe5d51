"""CORE devices: enrolment codes, device identities and their broker accounts."""
