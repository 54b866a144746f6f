// socket.io attached to the server (issue 11): engine.io takes over the
// server's 'request' listeners for the polling transport and its 'upgrade'
// event for the websocket transport. Each check runs on lastcall and on
// node:http, with socket.io-client forced onto one transport.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Server as IoServer } from 'socket.io';
import { io as ioClient } from 'socket.io-client';
import * as lastcall from '../../index.mjs';
import { impls, listen, within, closeServer } from './helpers.mjs';

for (const transport of ['polling', 'websocket']) {
  for (const [name, createServer] of impls) {
    test(`socket.io on ${name} over ${transport}: connect, an emit/ack round trip each way with binary data, then io.close() closes the server`, async (t) => {
      const server = createServer();
      const io = new IoServer(server);
      const seen = [];
      io.on('connection', (socket) => {
        seen.push(socket.conn.transport.name);
        socket.on('echo', (msg, ack) => ack({ got: msg, transport: socket.conn.transport.name }));
        socket.on('ready', async () => {
          const answer = await socket.timeout(5000).emitWithAck('question', Buffer.from([1, 2, 3]));
          socket.emit('answered', answer);
        });
      });
      const port = await listen(server);
      t.after(() => closeServer(name, server));
      if (name === 'lastcall') assert.ok(server instanceof lastcall.Server);

      const client = ioClient(`http://127.0.0.1:${port}`, { transports: [transport], forceNew: true, reconnection: false });
      t.after(() => client.disconnect());
      await within(new Promise((resolve, reject) => {
        client.on('connect', resolve);
        client.on('connect_error', reject);
      }), `socket.io ${transport} connect`);
      assert.equal(client.io.engine.transport.name, transport);

      const blob = Buffer.alloc(100_000, 9);
      const reply = await within(client.emitWithAck('echo', { text: 'hi', blob }), 'the ack for echo');
      assert.equal(reply.transport, transport);
      assert.equal(reply.got.text, 'hi');
      assert.ok(Buffer.from(reply.got.blob).equals(blob));

      client.on('question', (buf, ack) => ack(Buffer.from(buf).reverse().toString('hex')));
      const answered = new Promise((resolve) => client.on('answered', resolve));
      client.emit('ready');
      assert.equal(await within(answered, 'the server-side emitWithAck'), '030201');
      assert.deepEqual(seen, [transport]);

      const disconnected = new Promise((resolve) => client.on('disconnect', resolve));
      await within(new Promise((resolve, reject) => io.close((err) => (err ? reject(err) : resolve()))), 'io.close()');
      assert.equal(server.listening, false);
      // A websocket sees the close; a polling client sees its pending poll
      // fail, as on node:http.
      const reason = transport === 'websocket' ? 'transport close' : 'transport error';
      assert.equal(await within(disconnected, 'the client disconnect'), reason);
    });
  }
}
