import sys

from vp_edge.cli import main

sys.exit(main())
