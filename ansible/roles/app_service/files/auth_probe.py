"""Print the HTTP status of a staff route called with the key read from stdin, then without credentials.

Run inside the service's container: `python -c "$(cat auth_probe.py)" PORT PATH < key`. Prints e.g. `200 401`.
Each call may take 20 s: on a busy 2-core host (a drift of every step beside other work) 5 s was once not enough.
"""

import sys
import urllib.error
import urllib.request

port, path = sys.argv[1:3]
key = sys.stdin.read().strip()
statuses = []
for headers in ({"Authorization": f"Bearer {key}"}, {}):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 (a fixed http URL)
            statuses.append(response.status)
    except urllib.error.HTTPError as error:
        statuses.append(error.code)
print(" ".join(map(str, statuses)))
