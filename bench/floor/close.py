#!/usr/bin/env python3
"""The kernel's floor for closing idle loopback connections, without any server.

`python3 bench/floor/close.py [count] [close|orderly]` opens `count` (10000)
TCP connections to itself over 127.0.0.1, holds them idle, then times closing
the accepting side:

- close:   close() each socket (what node:http's closeAllConnections() does);
- orderly: shutdown(SHUT_WR), read until the peer's FIN, then close() (what
           lastcall's close() must do, DESIGN C6).

A forked child plays the clients and closes each socket when it sees EOF.
Prints wall time and this process's CPU time. Nothing here is lastcall; it
shows how far below these figures a server's close() cannot go on a machine.
"""
import os
import resource
import selectors
import socket
import sys
import time

count = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
mode = sys.argv[2] if len(sys.argv) > 2 else 'orderly'
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

listener = socket.socket()
listener.bind(('127.0.0.1', 0))
listener.listen(4096)
port = listener.getsockname()[1]

child = os.fork()
if child == 0:
    clients = [socket.create_connection(('127.0.0.1', port)) for _ in range(count)]
    sel = selectors.DefaultSelector()
    for c in clients:
        sel.register(c, selectors.EVENT_READ)
    left = count
    while left:
        for key, _ in sel.select():
            if key.fileobj.recv(1) == b'':
                sel.unregister(key.fileobj)
                key.fileobj.close()
                left -= 1
    os._exit(0)

accepted = [listener.accept()[0] for _ in range(count)]
time.sleep(0.5)
t0, c0 = time.perf_counter(), os.times()
if mode == 'close':
    for s in accepted:
        s.close()
else:
    sel = selectors.DefaultSelector()
    for s in accepted:
        s.shutdown(socket.SHUT_WR)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    left = count
    while left:
        for key, _ in sel.select():
            try:
                data = key.fileobj.recv(4096)
            except BlockingIOError:
                continue
            if data == b'':
                sel.unregister(key.fileobj)
                key.fileobj.close()
                left -= 1
t1, c1 = time.perf_counter(), os.times()
cpu = (c1.user - c0.user + c1.system - c0.system) * 1000
print(f'{mode} {count}: {(t1 - t0) * 1000:.1f} ms wall, {cpu:.1f} ms CPU')
os.waitpid(child, 0)
