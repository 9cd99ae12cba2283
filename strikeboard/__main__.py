import sys

from strikeboard.cli import main

sys.exit(main())
