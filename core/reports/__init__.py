"""What organisers and inspectors read: the listening dashboard and its rollups
(`listening.py`), visit overviews and the member timeline (`visits.py`), and the spreadsheet
and CSV exports of both (`xlsx.py`, with formula hygiene for everything a person typed)."""
