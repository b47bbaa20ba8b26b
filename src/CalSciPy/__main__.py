"""``python -m CalSciPy`` runs the ``calscipy`` command line."""
from CalSciPy.cli import main

raise SystemExit(main())
