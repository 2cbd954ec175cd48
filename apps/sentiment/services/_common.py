"""Values more than one services module needs."""

# Rescoring and deleting work in batches this size, each in its own short transaction.
DOCUMENT_WRITE_BATCH = 500
