"""A tiny Redis client (RESP2 over a socket, stdlib only) for seeding and inspecting the bench store."""

import socket


class Redis:
    """One connection to a redis-server; commands are pipelined in batches."""

    def __init__(self, host: str, port: int, timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.file = self.sock.makefile("rb")

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    @staticmethod
    def _encode(args) -> bytes:
        out = [b"*%d\r\n" % len(args)]
        for arg in args:
            if isinstance(arg, str):
                arg = arg.encode()
            elif isinstance(arg, int):
                arg = str(arg).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
        return b"".join(out)

    def _read(self):
        line = self.file.readline()
        if not line:
            raise ConnectionError("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(f"redis error: {rest.decode()}")
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            data = self.file.read(size + 2)
            return data[:-2]
        if kind == b"*":
            size = int(rest)
            if size < 0:
                return None
            return [self._read() for _ in range(size)]
        raise RuntimeError(f"unexpected redis reply: {line!r}")

    def command(self, *args):
        """Sends one command and returns its reply."""
        self.sock.sendall(self._encode(args))
        return self._read()

    def pipeline(self, commands, batch: int = 500):
        """Sends many commands, `batch` at a time, and returns their replies in order."""
        replies = []
        for start in range(0, len(commands), batch):
            chunk = commands[start : start + batch]
            self.sock.sendall(b"".join(self._encode(c) for c in chunk))
            replies.extend(self._read() for _ in chunk)
        return replies

    def scan_keys(self, pattern: str):
        """Every key matching `pattern` (SCAN, so the server never blocks long)."""
        cursor = "0"
        keys = []
        while True:
            cursor, batch = self.command("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
            cursor = cursor.decode() if isinstance(cursor, bytes) else cursor
            keys.extend(k.decode() for k in batch)
            if cursor == "0":
                return keys
