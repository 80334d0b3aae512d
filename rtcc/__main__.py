import sys

from rtcc.cli import main

sys.exit(main())
