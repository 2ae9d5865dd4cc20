"""Send HTTPS requests to the proxy on this host and print what came back, as JSON (one object per request).

    python3 https_probe.py ADDRESS PORT SERVER_NAME CAFILE REQUESTS_JSON

Connects to ADDRESS:PORT but speaks TLS for SERVER_NAME (SNI and certificate check), trusting CAFILE ("" = the system's
CAs), so the verification proves the certificate a client of the real name gets. REQUESTS_JSON is a list of
{method, path, body_bytes}. Prints [{status, headers}] with header names in lower case; stdlib only.
"""

import http.client
import json
import socket
import ssl
import sys

address, port, server_name, cafile, requests_json = sys.argv[1:6]
context = ssl.create_default_context(cafile=cafile or None)


class _Connection(http.client.HTTPSConnection):
    def connect(self) -> None:
        raw = socket.create_connection((address, int(port)), timeout=30)
        self.sock = context.wrap_socket(raw, server_hostname=server_name)


results = []
for request in json.loads(requests_json):
    connection = _Connection(server_name, int(port), context=context, timeout=30)
    body = b"x" * int(request.get("body_bytes", 0)) if request.get("body_bytes") else None
    headers = {"Content-Type": "application/json"} if body else {}
    try:
        connection.request(request["method"], request["path"], body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        results.append({"status": response.status, "headers": {k.lower(): v for k, v in response.getheaders()}})
    except (OSError, http.client.HTTPException) as error:
        results.append({"status": 0, "error": f"{type(error).__name__}: {error}"})
    finally:
        connection.close()
print(json.dumps(results))
