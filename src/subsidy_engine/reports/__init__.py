"""What people read: workbooks, charts and output folders written whole or not at all."""
