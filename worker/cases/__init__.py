"""Cases from opening to archive: deadlines, replies, sweeps and retention."""
