import sys

from vrkit.cli import main

sys.exit(main())
