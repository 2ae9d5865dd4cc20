import sys

from people.cli import main

sys.exit(main())
