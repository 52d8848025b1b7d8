#!/usr/bin/env python3
# clauderon's relay inside a sprite (clauderon-sprites, tunnel.rs): listens on the sprite's
# loopback where the session's HTTPS_PROXY points and carries each connection as frames over
# stdout/stdin to the daemon, which holds this process's exec stream open and connects each one
# to its credential proxy. Frame: kind (1) | connection (4, big-endian) | length (2) | payload.
# Kinds: 1 open, 2 data, 3 close, 4 ready. Standard library only.
import asyncio
import struct
import sys
import time

OPEN, DATA, CLOSE, READY = 1, 2, 3, 4
HEADER = struct.Struct(">BIH")


def send(kind, conn, payload=b""):
    out = sys.stdout.buffer
    out.write(HEADER.pack(kind, conn, len(payload)) + payload)
    out.flush()


async def main(port):
    conns = {}
    counter = [0]

    async def accepted(reader, writer):
        counter[0] += 1
        conn = counter[0]
        conns[conn] = writer
        send(OPEN, conn)
        try:
            while True:
                data = await reader.read(32768)
                if not data:
                    break
                send(DATA, conn, data)
        except (ConnectionError, OSError):
            pass
        finally:
            if conns.pop(conn, None) is not None:
                send(CLOSE, conn)
            writer.close()

    # A relay left by a daemon that went may hold the port a few seconds more.
    deadline = time.monotonic() + 30
    while True:
        try:
            server = await asyncio.start_server(accepted, "127.0.0.1", port)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
    send(READY, 0, str(port).encode())

    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    try:
        while True:
            head = await stdin.readexactly(HEADER.size)
            kind, conn, length = HEADER.unpack(head)
            payload = await stdin.readexactly(length) if length else b""
            writer = conns.get(conn)
            if writer is None:
                continue
            if kind == DATA:
                writer.write(payload)
                await writer.drain()
            elif kind == CLOSE:
                conns.pop(conn, None)
                writer.close()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        server.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3128))
