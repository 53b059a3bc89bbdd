"""Work-order push: the platform's work-order changes, their claims and ledger, sent to the source."""
