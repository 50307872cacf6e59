#!/usr/bin/env python3
# A TLS front for a plain relay, as an operator's proxy (nginx, Caddy) is one: terminates TLS
# with CERT and KEY on 127.0.0.1 (a free port, printed as JSON on the first line) and forwards
# each connection's bytes to 127.0.0.1:TARGET_PORT, both ways.
#   python3 tls_proxy.py CERT KEY TARGET_PORT
import asyncio, json, ssl, sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def main(cert, key, target_port):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    async def serve(reader, writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except ConnectionError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
    await server.serve_forever()


asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
