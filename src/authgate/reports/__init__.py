"""Reports built from decision logs, for auditors (`authgate report`)."""
