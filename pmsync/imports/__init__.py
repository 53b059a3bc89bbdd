"""CSV imports: strict reading, every cell checked, fix-up files, one transaction per file."""
