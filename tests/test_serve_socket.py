"""The serve socket: every accepted connection has TCP_NODELAY, so replies written in pieces (headers then body,
SSE chunks) are not held back by Nagle's algorithm until the client's delayed ACK (~40 ms a request)."""
import asyncio
import socket

from app.serve.server import bind


async def test_accepted_connections_have_nodelay():
    loop = asyncio.get_running_loop()
    sock = bind("127.0.0.1", 0)
    got: asyncio.Future = loop.create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport):
            got.set_result(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    server = await loop.create_server(Probe, sock=sock)  # what uvicorn does with the socket it is given
    try:
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        assert await asyncio.wait_for(got, 10) != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()


def test_the_old_socket_would_not_have_it():
    """The reason the proto matters: asyncio only sets TCP_NODELAY on sockets whose proto is IPPROTO_TCP."""
    plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        assert plain.proto == 0
    finally:
        plain.close()
    ours = bind("127.0.0.1", 0)
    try:
        assert ours.proto == socket.IPPROTO_TCP
    finally:
        ours.close()
