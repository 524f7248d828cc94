"""A local HTTP server on the loopback address that stands in for NASA's data servers in
tests: it serves files from memory, honours Range requests, and can drop connections
mid-file."""

import http.server
import threading


class FileServer:
    """Serves ``files``; the first ``breaks`` GETs of a file stop after ``cut`` bytes and
    drop the connection; ``ranges=False`` ignores Range headers (HTTP 200, whole file)."""

    def __init__(self, files: dict[str, bytes], breaks=1, cut=0.4, ranges=True):
        self.files, self.breaks, self.cut, self.ranges = files, breaks, cut, ranges
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                name = self.path.lstrip("/")
                rng = self.headers.get("Range")
                server.requests.append((name, rng))
                if name not in server.files:
                    self.send_error(404)
                    return
                data = server.files[name]
                start = int(rng.split("=")[1].split("-")[0]) if rng and server.ranges else 0
                body = data[start:]
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(body)))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if server.breaks > 0:
                    server.breaks -= 1
                    self.wfile.write(body[: int(len(body) * server.cut)])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
